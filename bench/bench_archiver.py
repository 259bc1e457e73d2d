"""Benchmark of the archiver's consume -> Parquet path, next to ceilings measured in the same run.

Run: ``.venv/bin/python bench/bench_archiver.py`` (about 70 s; ``--quick`` for a smoke
run; ``--events N`` changes the backlog, 200k by default: four full flushes). It starts
its own nats-server with file storage in a temporary directory, preloads N canonical
events (60 % trades, 39 % book deltas of 1-3 changes, 1 % book snapshots of 10 levels a
side) into ``MD_BENCH_KRAKEN_FUTURES``, and prints, each as the median of three runs over
the whole backlog:

  a. the archiver: `Archiver` stream task with its defaults (BatchConsumer pull, decode,
     Arrow, Parquet zstd, fsync, manifest commit, ack), a fresh durable and archive each run;
  b. ceiling, the bus without Parquet: the same BatchConsumer (same pull and buffer sizes)
     with a handler that does nothing, so only pull + ack remain;
  c. ceiling, the client alone: a plain nats-py pull loop that (c1) acks each message, as
     the archiver must, or (c2) acks nothing (what receiving alone costs in this process);
  d. ceiling, no NATS at all: the archiver's flush (decode, Arrow, Parquet, fsync, manifest)
     over the same messages already in memory, in batches of flush_rows.

The goal is 110k events/s for (a). Server and client share the machine's cores, so the
absolute figures move with it; (a) can never beat (b), nor (b) beat (c1) or (c2).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from importlib.metadata import version
from pathlib import Path

import nats
from nats.aio.msg import Msg
from prometheus_client import CollectorRegistry

from ssmd.archiver.flush import MarketFlusher
from ssmd.archiver.manifest import StreamManifest
from ssmd.archiver.service import Archiver, tune_gc
from ssmd.archiver.settings import ArchiverSettings
from ssmd.bus import (
    BatchConsumer,
    Bus,
    BusSettings,
    ConsumerSpec,
    Message,
    Publisher,
    Rejected,
    StreamSpec,
    connect,
    provision,
)
from ssmd.contracts.events import (
    BookDelta,
    BookSnapshot,
    LevelChange,
    MarketEvent,
    PriceLevel,
    Trade,
    channel_of,
    encode_event,
    event_msg_id,
)
from ssmd.contracts.subjects import md_stream, md_subject
from ssmd.embedded.servers import NatsServer

ENV = "bench"
VENUE = "kraken_futures"
RUNS = 3
RUN_TIMEOUT_S = 120.0
GOAL_PER_S = 110_000
BASE_NS = 1_763_700_000_000_000_000
MARKETS = [f"{VENUE}:PF_{base}USD" for base in ("XBT", "ETH", "SOL", "XRP", "DOGE")]


SETTINGS: dict[str, object] = {}  # overrides of the archiver's defaults (--quick)


def _settings(**extra: object) -> ArchiverSettings:
    return ArchiverSettings(**{**SETTINGS, **extra})  # type: ignore[arg-type]


def make_events(n: int) -> list[MarketEvent]:
    levels = [PriceLevel(f"{65_000 + k}.5", f"{k + 1}.25") for k in range(10)]
    events: list[MarketEvent] = []
    for i in range(n):
        market = MARKETS[i % len(MARKETS)]
        ts_ns = BASE_NS + i * 1_000_000
        recv_ns = ts_ns + 250_000
        kind = i % 100
        if kind < 60:
            events.append(
                Trade(
                    venue=VENUE,
                    market=market,
                    ts_event_ns=ts_ns,
                    ts_recv_ns=recv_ns,
                    seq=i,
                    price=f"{65_000 + i % 500}.5",
                    size="0.0125",
                    side="buy",
                    trade_id=f"t{i}",
                )
            )
        elif kind < 99:
            changes = [
                LevelChange(side="bid" if k % 2 else "ask", price=f"{65_000 + k}.5", size="1.5")
                for k in range(1 + i % 3)
            ]
            events.append(
                BookDelta(
                    venue=VENUE,
                    market=market,
                    ts_event_ns=ts_ns,
                    ts_recv_ns=recv_ns,
                    seq=i,
                    changes=changes,
                )
            )
        else:
            events.append(
                BookSnapshot(
                    venue=VENUE,
                    market=market,
                    ts_event_ns=ts_ns,
                    ts_recv_ns=recv_ns,
                    seq=i,
                    bids=levels,
                    asks=levels,
                )
            )
    return events


async def preload(bus: Bus, events: list[MarketEvent]) -> str:
    stream = md_stream(ENV, VENUE)
    await provision(bus, streams=[StreamSpec(stream.name, stream.subjects)])
    async with Publisher(bus, name="preload") as publisher:
        for event in events:
            subject = md_subject(ENV, VENUE, channel_of(event), 0, event.market)
            await publisher.publish(subject, encode_event(event), msg_id=event_msg_id(event))
    return stream.name


async def _drop_consumer(bus: Bus, stream: str, durable: str) -> None:
    with contextlib.suppress(Exception):  # absent on the first run
        await bus.js.delete_consumer(stream, durable)


async def run_archiver(bus: Bus, stream: str, n: int, work_dir: Path, run: int) -> float:
    """(a) The archiver's own stream task over the backlog; events/s until all committed."""
    await _drop_consumer(bus, stream, "archiver-md")
    settings = _settings(archive_dir=work_dir / f"archive-{run}", include_raw=False)
    archiver = Archiver(settings, ENV, bus, registry=CollectorRegistry())
    archiver.open()
    target = archiver.streams[0]
    started = time.perf_counter()
    task = asyncio.create_task(archiver.run_stream(target))
    try:
        async with asyncio.timeout(RUN_TIMEOUT_S):
            while target.manifest.committed.count < n:  # noqa: ASYNC110 - commits have no event
                await asyncio.sleep(0.005)
        rate = n / (time.perf_counter() - started)
    finally:
        target.consumer.stop()
        await task
        archiver.close()
    return rate


async def run_noop_consumer(bus: Bus, stream: str, n: int, run: int) -> float:
    """(b) The same BatchConsumer, settings as the archiver's, doing nothing per batch."""
    defaults = _settings()
    durable = f"noop{run}"
    seen = 0
    done = asyncio.Event()

    async def handler(messages: Sequence[Message]) -> list[Rejected]:
        nonlocal seen
        seen += len(messages)
        if seen >= n:
            done.set()
        return []

    spec = ConsumerSpec(
        stream,
        durable,
        ack_wait_s=defaults.ack_wait_s,
        max_deliver=-1,
        max_ack_pending=defaults.max_buffered_rows,
    )
    consumer = BatchConsumer(
        bus,
        spec,
        handler,
        dead_letter_subject="bench.dlq",
        max_batch=defaults.flush_rows,
        max_wait_s=defaults.flush_interval_s,
        max_buffered=defaults.max_buffered_rows,
        fetch_batch=defaults.fetch_batch,
    )
    await provision(bus, consumers=[spec])
    started = time.perf_counter()
    task = asyncio.create_task(consumer.run())
    try:
        async with asyncio.timeout(RUN_TIMEOUT_S):
            await done.wait()
        rate = n / (time.perf_counter() - started)
    finally:
        consumer.stop()
        await task
    return rate


async def run_pull(url: str, stream: str, n: int, run: int, *, ack: bool) -> float:
    """(c) nats-py alone: pull requests into one inbox, count, ack each or nothing."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        durable = f"pull{run}{'ack' if ack else ''}"
        policy = "explicit" if ack else "none"
        await js.add_consumer(
            stream, durable_name=durable, ack_policy=policy, max_ack_pending=n + 1
        )
        batch = _settings().fetch_batch
        credits = 0
        got = 0
        wake = asyncio.Event()
        done = asyncio.Event()

        async def on_msg(msg: Msg) -> None:
            nonlocal credits, got
            if not msg.reply and not msg.data:  # status: the request ended
                credits = 0
                wake.set()
                return
            credits -= 1
            got += 1
            if ack:
                await nc.publish(msg.reply, b"+ACK")
            if credits <= batch:
                wake.set()
            if got == n:
                done.set()
                wake.set()

        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox, cb=on_msg)
        request = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        body = json.dumps({"batch": batch, "expires": 5_000_000_000}).encode()
        started = time.perf_counter()
        async with asyncio.timeout(RUN_TIMEOUT_S):
            while not done.is_set():
                if credits <= batch:
                    await nc.publish(request, body, reply=inbox)
                    credits += batch
                    continue
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await wake.wait()
        rate = n / (time.perf_counter() - started)
        await sub.unsubscribe()
        return rate
    finally:
        await nc.close()


def flush_only(messages: list[Message], work_dir: Path, run: int) -> float:
    """(d) The flush alone, in flush_rows batches, over messages already in memory."""
    manifest = StreamManifest(work_dir / f"flush-{run}", f"FLUSH{run}")
    manifest.open()
    flusher = MarketFlusher(VENUE, manifest)
    size = _settings().flush_rows
    started = time.perf_counter()
    for start in range(0, len(messages), size):
        flusher.flush(messages[start : start + size])
    rate = len(messages) / (time.perf_counter() - started)
    manifest.close()
    return rate


def in_memory_messages(events: list[MarketEvent]) -> list[Message]:
    out = []
    for seq, event in enumerate(events, start=1):
        msg_id = event_msg_id(event)
        subject = md_subject(ENV, VENUE, channel_of(event), 0, event.market)
        out.append(
            Message(
                subject,
                encode_event(event),
                {"Nats-Msg-Id": msg_id},
                msg_id,
                "S",
                "c",
                seq,
                seq,
                1,
                0,
                event.ts_recv_ns,
            )
        )
    return out


async def median_of(label: str, n: int, run: Callable[[int], Awaitable[float]]) -> float:
    rates = [await run(i) for i in range(RUNS)]
    median = statistics.median(rates)
    runs = ", ".join(f"{r:,.0f}" for r in rates)
    print(f"  {label:<52} {median:>9,.0f} events/s   (N={n:,}; runs: {runs})", flush=True)
    return median


def machine() -> str:
    cpus = os.cpu_count()
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"machine: {cpus} CPUs ({model}), load {load}, {platform.machine()}, "
        f"Python {sys.version.split()[0]}, nats-py {version('nats-py')}, "
        f"pyarrow {version('pyarrow')}, msgspec {version('msgspec')}"
    )


async def main(args: argparse.Namespace) -> None:
    n = 30_000 if args.quick else args.events
    if args.quick:  # batches that fill: a smoke run must not wait for flush_interval_s
        SETTINGS.update(flush_rows=5_000, max_buffered_rows=10_000)
    print(machine())
    with tempfile.TemporaryDirectory(prefix="ssmd-bench-archiver-") as tmp:
        work = Path(tmp)
        with NatsServer(work / "nats", store="file") as server:
            print(f"nats-server {server.url}, JetStream file storage; loopback")
            bus = await connect(
                BusSettings(urls=(server.url,), name="bench-archiver"), registry=CollectorRegistry()
            )
            try:
                events = make_events(n)
                started = time.perf_counter()
                stream = await preload(bus, events)
                tune_gc()  # as the service does once started (freezes the preloaded events)
                print(
                    f"preloaded {n:,} events into {stream} in "
                    f"{time.perf_counter() - started:.1f}s; median of {RUNS} runs:",
                    flush=True,
                )
                archived = await median_of(
                    "a. archiver: pull, decode, Parquet, fsync, commit, ack",
                    n,
                    lambda run: run_archiver(bus, stream, n, work, run),
                )
                noop = await median_of(
                    "b. ceiling: same BatchConsumer, no-op handler (ack)",
                    n,
                    lambda run: run_noop_consumer(bus, stream, n, run),
                )
                acked = await median_of(
                    "c1. ceiling: nats-py pull loop, ack each",
                    n,
                    lambda run: run_pull(server.url, stream, n, run, ack=True),
                )
                pull = await median_of(
                    "c2. ceiling: nats-py pull loop, no acks",
                    n,
                    lambda run: run_pull(server.url, stream, n, run, ack=False),
                )
                messages = in_memory_messages(events)

                async def flush_run(run: int) -> float:
                    return await asyncio.to_thread(flush_only, messages, work, run)

                flushed = await median_of(
                    "d. ceiling: flush alone, no NATS (decode..commit)", n, flush_run
                )
            finally:
                await bus.close()
    print(
        f"  => archiver at {archived / noop:.0%} of the bus consume ceiling (b), "
        f"{archived / acked:.0%} of nats-py with acks (c1), {archived / pull:.0%} of "
        f"receive-only (c2); the flush alone (d) runs {flushed / archived:.1f}x the whole path"
    )
    verdict = "MET" if archived >= GOAL_PER_S else "NOT MET"
    print(f"  => goal {GOAL_PER_S:,} events/s: {verdict} ({archived:,.0f} events/s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30k events, for a smoke run")
    parser.add_argument("--events", type=int, default=200_000, help="backlog size (200k)")
    asyncio.run(main(parser.parse_args()))
