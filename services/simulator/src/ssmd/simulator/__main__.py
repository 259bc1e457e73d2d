"""``python -m ssmd.simulator`` / ``ssmd-simulator``: run the venue simulator.

Settings come from ``SSMD_SIMULATOR_*`` and ``SSMD_RUNTIME_*`` (or the settings file); the
command line overrides a few of them for convenience: ``--replay FILE --speed X`` replays a
capture, ``--host``, ``--port`` and ``--seed`` change where and what is served.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ssmd.core.runtime import Service, run_main, start_logging
from ssmd.core.service_settings import RuntimeSettings
from ssmd.simulator.app import Simulator
from ssmd.simulator.settings import SimulatorSettings


def _arguments(argv: list[str] | None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="ssmd-simulator",
        description="Venue simulator speaking the WebSocket and REST protocols of Kraken "
        "Futures, Kalshi or Polymarket (SSMD_SIMULATOR_VENUE or --venue).",
    )
    parser.add_argument("--venue", choices=["kraken_futures", "kalshi", "polymarket"])
    parser.add_argument("--replay", type=Path, help="capture file to replay (cryptofeed/JSONL)")
    parser.add_argument("--speed", type=float, help="replay speed factor; 0 = fastest")
    parser.add_argument("--host", help="interface of the venue server")
    parser.add_argument("--port", type=int, help="port of the venue server (0 = any free)")
    parser.add_argument("--seed", type=int, help="random seed of the synthetic markets")
    given = vars(parser.parse_args(argv))
    names = {"replay": "replay_path", "speed": "replay_speed"}
    return {names.get(key, key): value for key, value in given.items() if value is not None}


async def serve(argv: list[str] | None = None) -> int:
    """Load settings, build the simulator inside a Service, run until SIGTERM."""
    overrides = _arguments(argv)
    runtime = RuntimeSettings.load()
    settings = SimulatorSettings.load(**overrides)
    start_logging("simulator", runtime, settings=settings)
    service = Service.from_settings("simulator", runtime)
    simulator = Simulator(settings, registry=service.registry)
    simulator.register(service)
    await service.start_admin()
    await simulator.start()
    return await service.run()


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    run_main(lambda: serve(argv))


if __name__ == "__main__":
    main()
