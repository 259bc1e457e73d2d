"""``python -m ssmd.archiver`` / ``ssmd-archiver``: run the archiver.

Settings come from ``SSMD_ARCHIVER_*``, ``SSMD_BUS_*`` and ``SSMD_RUNTIME_*`` (or the
settings file). Start-up order: admin server (so /healthz answers at once), NATS, then the
manifests (lock, recover, compact), then one consuming task per stream.
"""

from __future__ import annotations

import asyncio
import logging

from ssmd.archiver.service import Archiver, tune_gc
from ssmd.archiver.settings import ArchiverSettings
from ssmd.bus import BusSettings, connect
from ssmd.core.runtime import Service, run_main, start_logging
from ssmd.core.service_settings import RuntimeSettings

log = logging.getLogger("ssmd.archiver")


async def serve() -> int:
    """Load settings, connect, recover the archive, archive until SIGTERM."""
    runtime = RuntimeSettings.load()
    settings = ArchiverSettings.load()
    bus_settings = BusSettings.load_for("ssmd-archiver")
    start_logging("archiver", runtime, settings=settings, bus=bus_settings)
    service = Service.from_settings("archiver", runtime)
    serving = asyncio.Event()  # set once recovered: /readyz says ready only then

    async def started() -> bool | str:
        return True if serving.is_set() else "starting (connecting, recovering manifests)"

    service.add_check("startup", started)
    await service.start_admin()
    bus = await connect(bus_settings, registry=service.registry)
    service.on_shutdown("bus", bus.drain)  # registered first: runs last
    archiver = Archiver(settings, runtime.env, bus, registry=service.registry)
    try:
        recoveries = await asyncio.to_thread(archiver.open)
    except BaseException:
        await bus.close()
        raise
    for stream, recovery in recoveries.items():
        log.info(
            "manifest of %s opened",
            stream,
            extra={
                "commits_replayed": recovery.commits,
                "rolled_back": recovery.rolled_back,
                "removed_files": len(recovery.removed_files),
            },
        )
    archiver.register(service)
    tune_gc()
    serving.set()  # run() installs the SIGTERM handler before it next yields
    return await service.run()


def main() -> None:
    """Console entry point."""
    run_main(serve)


if __name__ == "__main__":
    main()
