"""``python -m ssmd.connector`` / ``ssmd-connector``: run one connector shard.

Settings come from ``SSMD_CONNECTOR_*`` (venue, markets, shard...), ``SSMD_BUS_*`` (NATS)
and ``SSMD_RUNTIME_*`` (env token, admin port, logs, drain), or the settings file. They are
validated before anything starts (exit code 2 names the bad field) and logged once, with
secrets masked. SIGTERM closes the venue socket, flushes the publisher, drains NATS and
exits 0.
"""

from __future__ import annotations

from ssmd.bus import BusSettings
from ssmd.connector.admin import ConnectorService
from ssmd.connector.app import Connector
from ssmd.connector.settings import ConnectorSettings
from ssmd.core.runtime import run_main, start_logging
from ssmd.core.service_settings import RuntimeSettings


async def serve() -> int:
    """Load settings, build the connector inside its service, run until SIGTERM."""
    runtime = RuntimeSettings.load()
    settings = ConnectorSettings.load()
    bus_settings = BusSettings.load_for(f"connector-{settings.venue}-{settings.shard}")
    start_logging("connector", runtime, settings=settings, bus=bus_settings)
    service = ConnectorService("connector", runtime)
    connector = Connector(
        settings, bus_settings=bus_settings, env=runtime.env, registry=service.registry
    )
    connector.register(service)
    return await service.run()


def main() -> None:
    """Console entry point."""
    run_main(serve)


if __name__ == "__main__":
    main()
