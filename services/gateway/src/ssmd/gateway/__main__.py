"""``python -m ssmd.gateway`` / ``ssmd-gateway``: run the gateway until SIGTERM.

Settings: ``SSMD_GATEWAY_*`` (`GatewaySettings`), ``SSMD_BUS_*`` (NATS) and
``SSMD_RUNTIME_*`` (env token, admin port, logs, drain), or the settings file.
"""

from __future__ import annotations

import logging

from ssmd.bus import BusSettings, connect
from ssmd.core.logging import configure_logging
from ssmd.core.runtime import Service, run_main
from ssmd.core.service_settings import RuntimeSettings
from ssmd.gateway.service import Gateway
from ssmd.gateway.settings import GatewaySettings

log = logging.getLogger("ssmd.gateway")

_DEFAULT_BUS_NAME = "ssmd"


async def serve() -> int:
    """Load settings, connect, build the gateway inside a Service, run until stopped."""
    runtime = RuntimeSettings.load()
    settings = GatewaySettings.load()
    bus_settings = BusSettings.load()
    if bus_settings.name == _DEFAULT_BUS_NAME:
        bus_settings = bus_settings.model_copy(update={"name": "ssmd-gateway"})
    configure_logging("gateway", fmt=runtime.log_format, level=runtime.log_level)
    log.info(
        "starting",
        extra={
            "settings": settings.redacted(),
            "bus": bus_settings.redacted(),
            "runtime": runtime.redacted(),
        },
    )
    service = Service.from_settings("gateway", runtime)
    bus = await connect(bus_settings, registry=service.registry)
    gateway = Gateway(settings, env=runtime.env, bus=bus, service=service)
    gateway.register()
    await service.start_admin()
    return await service.run()


def main() -> None:
    """Console entry point."""
    run_main(serve)


if __name__ == "__main__":
    main()
