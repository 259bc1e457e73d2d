"""``python -m ssmd.gateway`` / ``ssmd-gateway``: run the gateway until SIGTERM.

Settings: ``SSMD_GATEWAY_*`` (`GatewaySettings`), ``SSMD_BUS_*`` (NATS) and
``SSMD_RUNTIME_*`` (env token, admin port, logs, drain), or the settings file.
"""

from __future__ import annotations

from ssmd.bus import BusSettings, connect
from ssmd.core.runtime import Service, run_main, start_logging
from ssmd.core.service_settings import RuntimeSettings
from ssmd.gateway.service import Gateway
from ssmd.gateway.settings import GatewaySettings


async def serve() -> int:
    """Load settings, connect, build the gateway inside a Service, run until stopped."""
    runtime = RuntimeSettings.load()
    settings = GatewaySettings.load()
    bus_settings = BusSettings.load_for("ssmd-gateway")
    start_logging("gateway", runtime, settings=settings, bus=bus_settings)
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
