"""Benchmark of the Kraken Futures adapter and simulator, in one process.

Run: ``.venv/bin/python bench/bench_kraken_futures.py`` (about twenty seconds; ``--quick``
for a smoke run). Prints, each as the median of three runs:

  a. parse: ``KrakenFuturesParser.parse`` over every incoming frame of the real 2021
     capture (7,175 frames: book deltas mostly), frames/s and canonical events/s;
  b. parse, book deltas only: the hot path of a connector;
  c. generate: the simulator's synthetic venue (``KrakenFuturesExchange.step``) producing
     frames for four markets, frames/s (no sockets);
  d. deliver: the simulator serving a WebSocket client in this process at a configured
     100,000 events/s, frames/s received (client and server share one core, so this is a
     floor: the figure a separate client process sees is higher).

The capture is read from ``$SSMD_FIXTURES_DIR`` or ``<repo>/../shared/fixtures/venues``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
from prometheus_client import CollectorRegistry

from ssmd.core.clock import SimulatedClock
from ssmd.simulator.app import Simulator
from ssmd.simulator.kraken_futures.exchange import KrakenFuturesExchange
from ssmd.simulator.kraken_futures.product_state import Keyed
from ssmd.simulator.ledger import Ledger
from ssmd.simulator.metrics import SimulatorMetrics
from ssmd.simulator.settings import SimulatorSettings
from ssmd.venues.capture import read_capture
from ssmd.venues.kraken_futures import requests
from ssmd.venues.kraken_futures.parse import KrakenFuturesParser

RUNS = 3
REPO_ROOT = Path(__file__).resolve().parents[1]
CAPTURE = "kraken_futures/cryptofeed/KRAKEN_FUTURES.ws.1.0.ws_capture.txt"
MARKETS = ["PF_XBTUSD", "PF_ETHUSD", "PF_SOLUSD", "FF_XBTUSD_270326"]


def _fixtures() -> Path:
    override = os.environ.get("SSMD_FIXTURES_DIR")
    return Path(override) if override else REPO_ROOT.parent / "shared" / "fixtures" / "venues"


def _median_rate(run: Callable[[], tuple[int, float]]) -> float:
    rates = []
    for _ in range(RUNS):
        count, seconds = run()
        rates.append(count / seconds)
    return statistics.median(rates)


def bench_parse(frames: list[bytes], repeat: int) -> tuple[float, float]:
    parser = KrakenFuturesParser()
    events_per_pass = sum(len(parser.parse(frame, 0).events) for frame in frames)

    def run() -> tuple[int, float]:
        start = time.perf_counter()
        for _ in range(repeat):
            for frame in frames:
                parser.parse(frame, 1)
        return len(frames) * repeat, time.perf_counter() - start

    frames_per_s = _median_rate(run)
    return frames_per_s, frames_per_s * events_per_pass / len(frames)


def bench_generate(steps: int) -> float:
    settings = SimulatorSettings.load(events_per_s=100_000.0, markets=MARKETS)

    def run() -> tuple[int, float]:
        exchange = KrakenFuturesExchange(
            settings,
            clock=SimulatedClock(1_000_000_000),
            ledger=Ledger(10),
            metrics=SimulatorMetrics(CollectorRegistry()),
        )
        out: list[Keyed] = []
        start = time.perf_counter()
        for step in range(steps):
            exchange.step(1_000_000_000 + step * 10_000_000, out)
        return len(out), time.perf_counter() - start

    return _median_rate(run)


async def bench_deliver(seconds: float) -> float:
    settings = SimulatorSettings.load(port=0, events_per_s=100_000.0, markets=MARKETS)

    async def run() -> tuple[int, float]:
        async with (
            Simulator(settings) as simulator,
            aiohttp.ClientSession() as http,
            http.ws_connect(simulator.ws_url, max_msg_size=0) as ws,
        ):
            for feed in ("book", "trade"):
                await ws.send_str(requests.subscribe(feed, MARKETS).decode())
            count, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                message = await ws.receive(timeout=10)
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                count += 1
            return count, time.perf_counter() - start

    rates = []
    for _ in range(RUNS):
        count, elapsed = await run()
        rates.append(count / elapsed)
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    quick = parser.parse_args().quick
    path = _fixtures() / CAPTURE
    frames = [r.frame for r in read_capture(path) if r.direction == "in"]
    deltas = [f for f in frames if f.startswith(b'{"feed":"book","')]
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cpus")
    frames_per_s, events_per_s = bench_parse(frames, 1 if quick else 5)
    print(
        f"a. parse 2021 capture   {frames_per_s:>12,.0f} frames/s  {events_per_s:>12,.0f} events/s"
    )
    deltas_per_s, _ = bench_parse(deltas, 1 if quick else 5)
    print(f"b. parse book deltas    {deltas_per_s:>12,.0f} frames/s")
    print(f"c. simulator generate   {bench_generate(50 if quick else 300):>12,.0f} frames/s")
    delivered = asyncio.run(bench_deliver(0.5 if quick else 3.0))
    print(f"d. simulator -> client  {delivered:>12,.0f} frames/s (one process)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
