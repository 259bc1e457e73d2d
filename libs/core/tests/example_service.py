"""A minimal service built on ssmd.core.runtime, run as a subprocess by the runtime tests.

It reads its settings from SSMD_EXAMPLE_* (so a bad value stops start-up), writes its admin
URL to the file named by its settings, and on shutdown appends "drained" to that file.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from prometheus_client import Counter
from pydantic import Field

from ssmd.core.logging import configure_logging
from ssmd.core.runtime import Service, run_main
from ssmd.core.settings import SsmdSettings

log = logging.getLogger("example")


class ExampleServiceSettings(SsmdSettings):
    section = "example"

    state_file: Path = Field(description="Where the admin URL and the drain mark are written.")
    tick_s: float = Field(0.01, gt=0, description="Seconds between work ticks. Default 10 ms.")
    ready: bool = Field(True, description="What the readiness check answers.")
    fail_after_ticks: int = Field(
        0, ge=0, description="Crash the work task after N ticks; 0 = never."
    )


async def main() -> int:
    settings = ExampleServiceSettings.load()
    configure_logging("example", fmt="json")
    service = Service("example")
    ticks = Counter("example_ticks_total", "Work ticks done", registry=service.registry)

    async def work() -> None:
        count = 0
        while True:
            await asyncio.sleep(settings.tick_s)
            ticks.inc()
            count += 1
            if settings.fail_after_ticks and count >= settings.fail_after_ticks:
                raise RuntimeError("simulated crash")

    async def check() -> bool | str:
        return True if settings.ready else "dependency down"

    async def drain() -> None:
        with settings.state_file.open("a") as handle:
            handle.write("drained\n")

    service.add_task("work", work)
    service.add_check("dependency", check)
    service.on_shutdown("mark", drain)
    await service.start_admin()
    settings.state_file.write_text(service.admin_url + "\n")
    return await service.run()


if __name__ == "__main__":
    run_main(main)
