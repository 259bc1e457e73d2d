"""Benchmark of ``GET /v1/trades`` for one market-hour over a 10M-row trade archive.

Run: ``.venv/bin/python bench/bench_gateway.py`` (about a minute; ``--quick`` for a 1M-row
smoke run). In a temporary directory it

1. builds a trade archive in ssmd-archiver's layout (``venue=/channel=trade/date=/hour=``,
   zstd Parquet, the archiver's columns): ``--rows`` trades (default 10,000,000) over
   ``--markets`` markets and ``--hours`` hours, each venue-hour split into
   ``--files-per-hour`` files by time, as successive flushes write them (all markets
   mixed in each file, in stream order), generated with vectorised pyarrow;
2. starts a nats-server and the gateway as a real process (``python -m ssmd.gateway``);
3. asks for ``--requests`` random market-hours, one at a time on a keep-alive HTTP
   connection, whole hour per answer (``limit=10000``), and reports p50/p90/p99;
4. runs the same queries in this process without HTTP, as the ceiling: the partition
   listing plus the very DuckDB query the gateway runs (`ArchiveReader.trades_blocking`),
   and, for where the rest goes, the gateway's whole query module (`TradeQueries.answer`:
   listing, DuckDB, tail merge, answer objects; no JSON, no HTTP).

The goal is p50 <= 50 ms over HTTP. Server and client share the machine's cores, so the
figures move with it; read them next to the ceiling measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from prometheus_client import CollectorRegistry

from ssmd.core.clock import LiveClock
from ssmd.embedded import NatsServer, ServiceProcess, free_port
from ssmd.gateway.archive import NS_PER_HOUR, ArchiveReader, hour_partitions
from ssmd.gateway.live import RecentTrades
from ssmd.gateway.metrics import GatewayMetrics
from ssmd.gateway.settings import GatewaySettings
from ssmd.gateway.trades import TradeQueries

VENUE = "kraken_futures"
GOAL_P50_MS = 50.0
START_NS = 1_714_521_600_000_000_000  # 2024-05-01T00:00:00Z
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        first = Path("/proc/meminfo").read_text().splitlines()[0]
        memory = f", {int(first.split()[1]) / 1024 / 1024:.1f} GiB RAM"
    except (OSError, IndexError, ValueError):
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{platform.platform()}; {cpu}; {os.cpu_count()} logical CPUs ({usable} usable)"
        f"{memory}; Python {platform.python_version()}; duckdb {version('duckdb')}, "
        f"pyarrow {version('pyarrow')}, fastapi {version('fastapi')}, "
        f"uvicorn {version('uvicorn')}"
    )


def market_ids(count: int) -> list[str]:
    return [f"{VENUE}:PF_M{index:03d}USD" for index in range(count)]


def _ints(values: np.ndarray[Any, Any]) -> pa.Int64Array:
    return pa.array(values, type=pa.int64())


def _decimal(units: pa.Int64Array, fraction: pa.Int64Array) -> pa.Array[Any]:
    """Strings ``<units>.<fraction>`` (exact decimals, as the archive stores them)."""
    separator = pa.array(["."] * len(units), type=pa.string())
    return pc.binary_join_element_wise(
        pc.cast(units, pa.string()), pc.cast(fraction, pa.string()), separator
    )


def _hex_ids(rng: np.random.Generator, count: int) -> pa.Array[Any]:
    """`count` random 32-hex-digit msg ids, built without a Python loop."""
    raw = rng.integers(0, 256, size=(count, 16), dtype=np.uint8)
    digits = np.empty((count, 32), dtype=np.uint8)
    digits[:, 0::2] = _HEX[raw >> 4]
    digits[:, 1::2] = _HEX[raw & 0x0F]
    return pc.cast(pa.array(digits.view("S32").ravel(), type=pa.binary(32)), pa.string())


def hour_table(
    rng: np.random.Generator,
    markets: pa.Array[Any],
    hour: int,
    rows: int,
    first_seq: int,
) -> pa.Table:
    """One venue-hour of trades in stream (time) order, in the archiver's columns."""
    offsets = np.sort(rng.integers(0, NS_PER_HOUR, size=rows, dtype=np.int64))
    ts_event = START_NS + hour * NS_PER_HOUR + offsets
    ts_recv = ts_event + rng.integers(200_000, 5_000_000, size=rows, dtype=np.int64)
    seq = np.arange(first_seq, first_seq + rows, dtype=np.int64)
    price = _decimal(
        _ints(rng.integers(1_000, 70_000, size=rows)), _ints(rng.integers(0, 10, size=rows))
    )
    size = _decimal(_ints(rng.integers(0, 5, size=rows)), _ints(rng.integers(1, 9999, size=rows)))
    sides = pa.array(["buy", "sell"], type=pa.string())
    return pa.table(
        {
            "market": pc.take(markets, _ints(rng.integers(0, len(markets), size=rows))),
            "ts_event": pc.cast(_ints(ts_event), pa.timestamp("ns")),
            "ts_recv": pc.cast(_ints(ts_recv), pa.timestamp("ns")),
            "seq": _ints(seq),
            "price": price,
            "size": size,
            "side": pc.take(sides, _ints(rng.integers(0, 2, size=rows))),
            "trade_id": pc.cast(_ints(seq), pa.string()),
            "ts_event_ns": _ints(ts_event),
            "ts_recv_ns": _ints(ts_recv),
            "msg_id": _hex_ids(rng, rows),
            "stream_seq": pa.array(seq.astype(np.uint64), type=pa.uint64()),
        }
    )


def build_archive(
    root: Path,
    *,
    rows: int,
    markets: int,
    hours: int,
    files_per_hour: int,
    sorted_row_group: int = 0,
) -> int:
    """Write the archive; returns its size in bytes.

    With `sorted_row_group`, each file's rows are sorted by (market, ts_event) and written
    in row groups of that many rows (what-if for the archiver: lets DuckDB skip row groups
    of other markets by their min/max statistics).
    """
    rng = np.random.default_rng(7)
    names = pa.array(market_ids(markets), type=pa.string())
    per_hour = rows // hours
    total = 0
    for hour in range(hours):
        table = hour_table(rng, names, hour, per_hour, first_seq=1 + hour * per_hour)
        stamp = time.gmtime((START_NS // 1_000_000_000) + hour * 3600)
        directory = (
            root
            / f"venue={VENUE}"
            / "channel=trade"
            / f"date={time.strftime('%Y-%m-%d', stamp)}"
            / f"hour={stamp.tm_hour:02d}"
        )
        directory.mkdir(parents=True, exist_ok=True)
        step = -(-per_hour // files_per_hour)
        for index, begin in enumerate(range(0, per_hour, step)):
            part = table.slice(begin, step)
            path = directory / f"{hour:06d}{index:04d}.parquet"
            if sorted_row_group:
                part = part.sort_by([("market", "ascending"), ("ts_event_ns", "ascending")])
                pq.write_table(part, path, compression="zstd", row_group_size=sorted_row_group)
            else:
                pq.write_table(part, path, compression="zstd")
            total += path.stat().st_size
    return total


def percentiles(samples_s: list[float]) -> str:
    ms = sorted(sample * 1000 for sample in samples_s)

    def at(q: float) -> float:
        return ms[min(len(ms) - 1, round(q * (len(ms) - 1)))]

    return f"p50 {at(0.5):7.2f} ms  p90 {at(0.9):7.2f} ms  p99 {at(0.99):7.2f} ms"


def timed(
    queries: list[tuple[str, int]], run: Callable[[str, int], int]
) -> tuple[list[float], int]:
    samples, rows = [], 0
    for market, hour_start in queries:
        began = time.perf_counter()
        rows += run(market, hour_start)
        samples.append(time.perf_counter() - began)
    return samples, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--markets", type=int, default=100)
    parser.add_argument("--hours", type=int, default=48)
    parser.add_argument("--files-per-hour", type=int, default=12)
    parser.add_argument(
        "--sorted-row-group",
        type=int,
        default=0,
        metavar="ROWS",
        help="what-if: sort each file by market and write row groups of ROWS rows",
    )
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="1M rows, 50 requests")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.requests = 1_000_000, 50
    print(f"machine: {machine()}")
    work = Path(tempfile.mkdtemp(prefix="ssmd-bench-gateway-"))
    try:
        return run(work, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(work: Path, args: argparse.Namespace) -> int:
    root = work / "archive"
    began = time.perf_counter()
    size = build_archive(
        root,
        rows=args.rows,
        markets=args.markets,
        hours=args.hours,
        files_per_hour=args.files_per_hour,
        sorted_row_group=args.sorted_row_group,
    )
    per_market_hour = args.rows // args.hours // args.markets
    order = (
        f"sorted by market, row groups of {args.sorted_row_group:,}"
        if args.sorted_row_group
        else "stream order, one row group"
    )
    print(
        f"archive: {args.rows:,} trades, {args.markets} markets x {args.hours} hours, "
        f"{args.files_per_hour} files/hour in {order} ({args.hours * args.files_per_hour} files, "
        f"{size / args.hours / args.files_per_hour / 1e6:.2f} MB each, {size / 1e6:.0f} MB), "
        f"~{per_market_hour:,} trades per market-hour; built in {time.perf_counter() - began:.1f} s"
    )
    rng = random.Random(11)
    names = market_ids(args.markets)
    queries = [
        (rng.choice(names), START_NS + rng.randrange(args.hours) * NS_PER_HOUR)
        for _ in range(args.requests)
    ]
    http_samples, first_s, http_rows = measure_http(work, root, queries)
    direct_samples, direct_rows = measure_duckdb(root, queries)
    module_samples, _ = measure_query_module(root, queries)
    assert http_rows == direct_rows, (http_rows, direct_rows)
    print(
        f"one market-hour, {args.requests} sequential requests, "
        f"{http_rows / len(queries):,.0f} trades each:"
    )
    print(f"  HTTP GET /v1/trades (gateway process)  {percentiles(http_samples)}")
    print(f"  ceiling: DuckDB query in-process       {percentiles(direct_samples)}")
    print(f"  query module in-process (no JSON/HTTP) {percentiles(module_samples)}")
    print(f"  first HTTP request (cold file metadata): {first_s * 1000:.1f} ms")
    p50_ms = statistics.median(http_samples) * 1000
    verdict = "met" if p50_ms <= GOAL_P50_MS else "NOT met"
    print(f"goal p50 <= {GOAL_P50_MS:.0f} ms over HTTP: {verdict} ({p50_ms:.1f} ms)")
    return 0


def measure_http(
    work: Path, root: Path, queries: list[tuple[str, int]]
) -> tuple[list[float], float, int]:
    with NatsServer(work / "nats", store="memory") as nats:
        port = free_port()
        gateway = ServiceProcess(
            "ssmd.gateway",
            work / "gateway",
            env={
                "SSMD_BUS_URLS": nats.url,
                "SSMD_GATEWAY_PORT": str(port),
                "SSMD_GATEWAY_ARCHIVE_DIR": str(root),
                "SSMD_GATEWAY_VENUES": VENUE,
                "SSMD_RUNTIME_LOG_LEVEL": "WARNING",
            },
            wait_ready=True,
        )
        with gateway:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

            def get(market: str, hour_start: int) -> tuple[float, bytes]:
                """Seconds from request to the last byte of the answer, and the answer."""
                query = urlencode(
                    {
                        "market": market,
                        "start": hour_start,
                        "end": hour_start + NS_PER_HOUR,
                        "limit": 10_000,
                    }
                )
                began = time.perf_counter()
                connection.request("GET", f"/v1/trades?{query}")
                response = connection.getresponse()
                body = response.read()
                elapsed_s = time.perf_counter() - began
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}: {body[:300]!r}")
                return elapsed_s, body

            first_s, _ = get(*queries[0])
            samples, rows = [], 0
            for market, hour_start in queries:
                elapsed_s, body = get(market, hour_start)
                samples.append(elapsed_s)
                rows += int(json.loads(body)["count"])  # parsed after the clock stopped
            connection.close()
    return samples, first_s, rows


def measure_duckdb(root: Path, queries: list[tuple[str, int]]) -> tuple[list[float], int]:
    reader = ArchiveReader(workers=1, timeout_s=60)
    try:

        def direct(market: str, hour_start: int) -> int:
            end = hour_start + NS_PER_HOUR
            files = [
                f for p in hour_partitions(root, VENUE, "trade", hour_start, end) for f in p.files
            ]
            return len(reader.trades_blocking(market, hour_start, end, files, 10_001))

        direct(*queries[0])  # the same warm-up the HTTP run had
        return timed(queries, direct)
    finally:
        reader.close()


def measure_query_module(root: Path, queries: list[tuple[str, int]]) -> tuple[list[float], int]:
    clock = LiveClock()
    settings = GatewaySettings(archive_dir=root, venues=(VENUE,))
    reader = ArchiveReader(workers=1, timeout_s=60)
    recent = RecentTrades(window_s=120, max_trades=10, clock=clock)
    module = TradeQueries(settings, reader, recent, clock, GatewayMetrics(CollectorRegistry()))

    async def all_queries() -> tuple[list[float], int]:
        samples, rows = [], 0
        for market, hour_start in [queries[0], *queries]:
            began = time.perf_counter()
            query = module.query(market, str(hour_start), str(hour_start + NS_PER_HOUR), 10_000)
            rows += (await module.answer(query)).answer.count
            samples.append(time.perf_counter() - began)
        return samples[1:], rows

    try:
        return asyncio.run(all_queries())
    finally:
        reader.close()


if __name__ == "__main__":
    sys.exit(main())
