"""Benchmark of the secmaster: a full venue sync, and market lookups cached and uncached.

Run: ``.venv/bin/python bench/bench_secmaster.py`` (about two minutes; ``--quick`` for a
small run). In a temporary directory it starts nats-server, PostgreSQL and Valkey from their
wheels, a Kalshi simulator listing ``--markets`` markets (default 20,000) and the secmaster
as a real process (``python -m ssmd.secmaster``) syncing it; it reports the first sync's time
(and that a second sync changed nothing), then asks ``GET /v1/markets/{id}`` one request at
a time on a keep-alive connection:

* uncached: ids never asked before (each one a Valkey miss, a Postgres read and a cache fill);
* cached: the same ids again (Valkey hits);

``--requests`` of each per run, three runs; p50/p90/p99 per run and the median of the runs.
The goals are p99 <= 10 ms uncached and <= 2 ms cached, over HTTP. Server, databases and
client share the machine's cores, so the figures move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import urllib.request
from http.client import HTTPConnection
from importlib.metadata import version
from pathlib import Path
from typing import Any

from ssmd.embedded import NatsServer, PostgresServer, ServiceProcess, ValkeyServer, free_port

RUNS = 3
SEED = 5


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 - loopback http
        return json.loads(answer.read())


def _tickers(n: int) -> list[str]:
    """`n` valid Kalshi tickers over 50 series and many events."""
    return [f"KXB{i % 50}-26DEC{(i // 50) % 28 + 1:02d}-T{i}" for i in range(n)]


def _wait_synced(url: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            progress: dict[str, Any] = _get_json(f"{url}/v1/sync")
        except OSError:
            progress = {}
        kalshi = progress.get("kalshi") or progress.get("venues", {}).get("kalshi") or {}
        if isinstance(kalshi, dict) and kalshi.get("last_report"):
            return kalshi
        time.sleep(0.5)
    raise SystemExit(f"the secmaster did not finish a sync within {timeout_s}s")


def _latencies(connection: HTTPConnection, paths: list[str]) -> list[float]:
    out = []
    for path in paths:
        started = time.perf_counter()
        connection.request("GET", path)
        answer = connection.getresponse()
        body = answer.read()
        out.append((time.perf_counter() - started) * 1000)
        if answer.status != 200:
            raise SystemExit(f"GET {path}: HTTP {answer.status}: {body[:200]!r}")
    return out


def _percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return at(0.5), at(0.9), at(0.99)


def main(args: argparse.Namespace) -> None:
    markets = 2000 if args.quick else args.markets
    requests = 300 if args.quick else args.requests
    load = os.getloadavg()
    print(
        f"machine: {os.cpu_count()} CPUs, {platform.machine()}, load {load[0]:.2f} "
        f"{load[1]:.2f} {load[2]:.2f}, Python {sys.version.split()[0]}, "
        f"asyncpg {version('asyncpg')}, valkey-py {version('valkey')}"
    )
    with tempfile.TemporaryDirectory(prefix="ssmd-bench-") as tmp:
        root = Path(tmp)
        nats = NatsServer(root / "nats").start()
        postgres = PostgresServer(root / "postgres").start()
        valkey = ValkeyServer(root / "valkey").start()
        started: list[ServiceProcess] = []
        try:
            venue_port, api_port = free_port(), free_port()
            tickers = _tickers(markets)
            common = {"SSMD_BUS_URLS": nats.url, "SSMD_RUNTIME_ENV": "bench"}
            # Too many tickers for an environment variable: a settings file holds them.
            settings_file = root / "simulator.json"
            settings_file.write_text(json.dumps({"simulator": {"markets": tickers}}))
            simulator = ServiceProcess(
                "ssmd.simulator",
                root / "simulator",
                env={
                    **common,
                    "SSMD_CONFIG_FILE": str(settings_file),
                    "SSMD_SIMULATOR_VENUE": "kalshi",
                    "SSMD_SIMULATOR_PORT": str(venue_port),
                    "SSMD_SIMULATOR_EVENTS_PER_S": "10",
                },
                wait_ready=True,
            )
            started.append(simulator.start())
            secmaster = ServiceProcess(
                "ssmd.secmaster",
                root / "secmaster",
                env={
                    **common,
                    "SSMD_DB_DSN": postgres.dsn,
                    "SSMD_SECMASTER_VENUES": "kalshi",
                    "SSMD_SECMASTER_KALSHI_REST_URL": f"http://127.0.0.1:{venue_port}/trade-api/v2",
                    "SSMD_SECMASTER_PORT": str(api_port),
                    "SSMD_SECMASTER_CACHE_URL": valkey.url,
                    "SSMD_SECMASTER_SYNC_INTERVAL_S": "3600",
                    "SSMD_SECMASTER_REST_REQUESTS_PER_S": "1000",
                },
                wait_ready=False,
            )
            began = time.monotonic()
            started.append(secmaster.start())
            url = f"http://127.0.0.1:{api_port}"
            first = _wait_synced(url, timeout_s=600)
            print(
                f"first sync of {markets:,} Kalshi markets: {time.monotonic() - began:.1f} s "
                f"from process start; report {json.dumps(first.get('last_report'))[:300]}"
            )
            resync = urllib.request.Request(f"{url}/v1/sync?venue=kalshi", method="POST")  # noqa: S310
            with urllib.request.urlopen(resync, timeout=600) as answer:  # noqa: S310
                second = json.loads(answer.read())
            print(f"second sync: {json.dumps(second)[:300]}")

            rng = random.Random(SEED)
            connection = HTTPConnection("127.0.0.1", api_port, timeout=30)
            _latencies(connection, [f"/v1/markets/kalshi:{tickers[0]}"] * 50)  # warm up
            uncached_p99, cached_p99 = [], []
            for run in range(RUNS):
                chosen = rng.sample(tickers[1:], requests)
                paths = [f"/v1/markets/kalshi:{ticker}" for ticker in chosen]
                cold = _percentiles(_latencies(connection, paths))
                warm = _percentiles(_latencies(connection, paths))
                uncached_p99.append(cold[2])
                cached_p99.append(warm[2])
                print(
                    f"run {run + 1}: uncached p50 {cold[0]:.2f} p90 {cold[1]:.2f} p99 "
                    f"{cold[2]:.2f} ms | cached p50 {warm[0]:.2f} p90 {warm[1]:.2f} p99 "
                    f"{warm[2]:.2f} ms ({requests} requests each)"
                )
            connection.close()
            cold_median, warm_median = (
                statistics.median(uncached_p99),
                statistics.median(cached_p99),
            )
            print(
                f"=> lookups p99, median of {RUNS} runs: uncached {cold_median:.2f} ms (goal "
                f"<= 10: {'met' if cold_median <= 10 else 'NOT met'}), cached "
                f"{warm_median:.2f} ms (goal <= 2: {'met' if warm_median <= 2 else 'NOT met'})"
            )
        finally:
            for process in reversed(started):
                process.stop()
            valkey.stop()
            postgres.stop()
            nats.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small N, for a smoke run")
    parser.add_argument("--markets", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=2000)
    main(parser.parse_args())
