"""``python -m ssmd.secmaster`` / ``ssmd-secmaster``: run the secmaster until SIGTERM.

Settings: ``SSMD_SECMASTER_*`` (`SecmasterSettings`), ``SSMD_DB_*`` (PostgreSQL),
``SSMD_BUS_*`` (NATS) and ``SSMD_RUNTIME_*`` (env token, admin port, logs, drain), or the
settings file. Start-up order: admin server (so /healthz answers at once), Postgres and its
migrations, NATS and the ``SECMASTER`` stream, then every task; /readyz says ready once
Postgres and NATS answer and every venue has been synced once.
"""

from __future__ import annotations

from ssmd.bus import BusSettings
from ssmd.core.runtime import Service, run_main, start_logging
from ssmd.core.service_settings import RuntimeSettings
from ssmd.db import DbSettings
from ssmd.secmaster.app import Secmaster
from ssmd.secmaster.settings import SecmasterSettings


async def serve() -> int:
    """Load settings, connect, build the secmaster inside a Service, run until stopped."""
    runtime = RuntimeSettings.load()
    settings = SecmasterSettings.load()
    db = DbSettings.load()
    bus_settings = BusSettings.load_for("ssmd-secmaster")
    start_logging("secmaster", runtime, settings=settings, db=db, bus=bus_settings)
    service = Service.from_settings("secmaster", runtime)
    starting = True

    async def started() -> bool | str:
        return "starting (Postgres, migrations, NATS)" if starting else True

    service.add_check("startup", started)
    await service.start_admin()
    secmaster = await Secmaster.open(
        settings, env=runtime.env, db=db, bus_settings=bus_settings, service=service
    )
    secmaster.register()
    starting = False
    return await service.run()


def main() -> None:
    """Console entry point."""
    run_main(serve)


if __name__ == "__main__":
    main()
