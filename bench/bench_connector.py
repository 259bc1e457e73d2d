"""Benchmark of the connector's frame path against raw nats-py publishing, on one loopback server.

Run: ``.venv/bin/python bench/bench_connector.py`` (about a minute; ``--quick`` for a smoke
run). It starts its own nats-server with file storage (as in production) in a temporary
directory, generates synthetic Kraken Futures frames (book snapshots, then ~90 % book
deltas and ~10 % trades over 10 products; ~130-byte frames as on the venue) and measures,
each as the median of three interleaved runs:

  a. the connector: every frame through ``FramePipeline.handle`` (the production hot
     path: raw frame publish, parse, sequence check, L2 book update, canonical encoding,
     dedup id, publish through ``ssmd.bus.Publisher``), fed from memory instead of a
     socket, then flushed until JetStream acknowledged every message;
  b. the raw ceiling for exactly the same messages (same subjects, payloads and
     ``Nats-Msg-Id``s, pre-encoded by a dry run of (a)): a hand-written nats-py pipeline,
     core publish with a reply inbox and acks counted on one wildcard subscription, the
     fastest method of ``bench/bench_bus.py``.

Both with ``publish_raw`` on (the default: two messages per event) and off. Each run gets
fresh streams, as the connector provisions them. Server and client share the machine's
cores, so absolute figures move with it; the ratio is what to read.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import msgspec
import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from prometheus_client import CollectorRegistry

from ssmd.bus import Bus, BusSettings, Publisher, connect, provision
from ssmd.connector.app import Connector
from ssmd.connector.settings import ConnectorSettings
from ssmd.embedded.servers import NatsServer

RUNS = 3
RUN_TIMEOUT_S = 60.0
WINDOW = 4096  # raw pipeline's messages in flight (the Publisher uses its own setting)
ENV = "bench"
PRODUCTS = [f"PF_B{i}USD" for i in range(10)]
LEVELS_PER_SIDE = 50
TRADE_SHARE = 0.1
SEED = 7

Message = tuple[str, bytes, str, dict[str, str]]


# -- frames -----------------------------------------------------------------------------------


def make_frames(n: int) -> list[bytes]:
    """`n` Kraken Futures frames: a snapshot per product, then deltas and trades."""
    rng = random.Random(SEED)
    encode = msgspec.json.encode
    frames: list[bytes] = []
    seqs = dict.fromkeys(PRODUCTS, 1000)
    trade_seqs = dict.fromkeys(PRODUCTS, 1)
    mids = {p: 1000.0 + 100 * i for i, p in enumerate(PRODUCTS)}
    ts_ms = 1_700_000_000_000
    for product in PRODUCTS:
        mid = mids[product]
        bids = [{"price": mid - 0.5 * (k + 1), "qty": 1.0 + k} for k in range(LEVELS_PER_SIDE)]
        asks = [{"price": mid + 0.5 * (k + 1), "qty": 1.0 + k} for k in range(LEVELS_PER_SIDE)]
        frames.append(
            encode(
                {
                    "feed": "book_snapshot",
                    "product_id": product,
                    "timestamp": ts_ms,
                    "seq": seqs[product],
                    "tickSize": None,
                    "bids": bids,
                    "asks": asks,
                }
            )
        )
    while len(frames) < n:
        product = rng.choice(PRODUCTS)
        ts_ms += 1
        if rng.random() < TRADE_SHARE:
            trade_seqs[product] += 1
            frames.append(
                b'{"feed":"trade","product_id":"%s","uid":"%08x-bench","side":"%s",'
                b'"type":"fill","seq":%d,"time":%d,"qty":%s,"price":%s}'
                % (
                    product.encode(),
                    rng.getrandbits(32),
                    rng.choice((b"buy", b"sell")),
                    trade_seqs[product],
                    ts_ms,
                    f"{rng.randint(1, 500) / 100:g}".encode(),
                    f"{mids[product] + rng.randint(-4, 4) * 0.5:.1f}".encode(),
                )
            )
            continue
        seqs[product] += 1
        buy = rng.random() < 0.5
        offset = 0.5 * rng.randint(1, LEVELS_PER_SIDE)
        price = mids[product] - offset if buy else mids[product] + offset
        qty = 0 if rng.random() < 0.2 else rng.randint(1, 5000) / 100
        frames.append(
            b'{"feed":"book","product_id":"%s","side":"%s","seq":%d,"price":%s,"qty":%s,'
            b'"timestamp":%d}'
            % (
                product.encode(),
                b"buy" if buy else b"sell",
                seqs[product],
                f"{price:.1f}".encode(),
                f"{qty:g}".encode(),
                ts_ms,
            )
        )
    return frames


# -- the connector path -----------------------------------------------------------------------


class Recorder:
    """A publisher that keeps what it is given (the dry run that yields the ceiling's input)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def publish(
        self,
        subject: str,
        payload: bytes,
        *,
        msg_id: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.messages.append((subject, payload, msg_id, dict(headers or {})))


def new_connector(bus_settings: BusSettings, *, publish_raw: bool) -> Connector:
    settings = ConnectorSettings(
        markets=PRODUCTS, publish_raw=publish_raw, ws_url="ws://127.0.0.1:1/ws/v1"
    )
    connector = Connector(
        settings, bus_settings=bus_settings, env=ENV, registry=CollectorRegistry()
    )
    connector.markets = [connector.adapter.market_id(p) for p in PRODUCTS]
    return connector


async def fresh_streams(bus: Bus, connector: Connector) -> None:
    for spec in connector.stream_specs():
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await bus.js.delete_stream(spec.name)
    await provision(bus, streams=connector.stream_specs())


async def feed(connector: Connector, frames: list[bytes], publisher: Recorder | Publisher) -> int:
    """Every frame through the production pipeline; returns the events it published."""
    pipeline = connector.build_pipeline(publisher)
    await pipeline.begin_session(None, _no_send, continuation=False)
    handle, now_ns = pipeline.handle, time.time_ns
    for frame in frames:
        await handle(frame, now_ns())
    return sum(connector.stats.events.values())


async def _no_send(_request: bytes) -> None:
    return None


@dataclass(frozen=True)
class Workload:
    label: str
    publish_raw: bool
    frames: list[bytes]
    messages: list[Message]
    events: int


async def dry_run(bus_settings: BusSettings, frames: list[bytes], *, publish_raw: bool) -> Workload:
    connector = new_connector(bus_settings, publish_raw=publish_raw)
    recorder = Recorder()
    events = await feed(connector, frames, recorder)
    label = "raw frames on " if publish_raw else "raw frames off"
    return Workload(label, publish_raw, frames, recorder.messages, events)


async def connector_run(bus: Bus, bus_settings: BusSettings, work: Workload) -> float:
    """Seconds for the connector to get every message of `work` acknowledged."""
    connector = new_connector(bus_settings, publish_raw=work.publish_raw)
    await fresh_streams(bus, connector)
    started = time.perf_counter()
    async with Publisher(bus, name="bench") as publisher:
        events = await feed(connector, work.frames, publisher)
    elapsed = time.perf_counter() - started
    assert events == work.events, (events, work.events)
    await _check_stored(bus, connector, len(work.messages))
    return elapsed


async def _check_stored(bus: Bus, connector: Connector, expected: int) -> None:
    stored = 0
    for spec in connector.stream_specs():
        stored += (await bus.js.stream_info(spec.name)).state.messages
    assert stored == expected, (stored, expected)


# -- the raw ceiling --------------------------------------------------------------------------


async def ceiling_run(bus: Bus, bus_settings: BusSettings, nc: NatsClient, work: Workload) -> float:
    """Seconds for raw nats-py to get the same pre-encoded messages acknowledged."""
    connector = new_connector(bus_settings, publish_raw=work.publish_raw)
    await fresh_streams(bus, connector)
    messages = [(s, p, {"Nats-Msg-Id": i, **h}) for s, p, i, h in work.messages]
    n = len(messages)
    inbox = nc.new_inbox() + "."
    state = {"in_flight": 0, "acked": 0, "failed": 0}
    room = asyncio.Event()
    done = asyncio.Event()

    async def on_ack(msg: Msg) -> None:
        state["in_flight"] -= 1
        state["acked"] += 1
        if not msg.data or b'"error"' in msg.data:  # the least an ack check can do
            state["failed"] += 1
        if state["in_flight"] <= WINDOW * 3 // 4:
            room.set()
        if state["acked"] == n:
            done.set()

    sub = await nc.subscribe(inbox + "*", cb=on_ack)
    publish = nc.publish
    started = time.perf_counter()
    for i, (subject, payload, headers) in enumerate(messages):
        if state["in_flight"] >= WINDOW:
            room.clear()
            await room.wait()
        state["in_flight"] += 1
        await publish(subject, payload, inbox + str(i), headers)
    await done.wait()
    elapsed = time.perf_counter() - started
    await sub.unsubscribe()
    assert state["failed"] == 0
    await _check_stored(bus, connector, n)
    return elapsed


# -- main -------------------------------------------------------------------------------------


async def median_of_runs(runs: list[Callable[[], Awaitable[float]]]) -> list[float]:
    """Each run RUNS times, interleaved (so all see the same machine weather): medians."""
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(RUNS):
        for run, out in zip(runs, times, strict=True):
            async with asyncio.timeout(RUN_TIMEOUT_S):
                out.append(await run())
    return [statistics.median(t) for t in times]


async def bench(url: str, n_frames: int) -> None:
    bus_settings = BusSettings(urls=(url,), name="bench-connector")
    bus = await connect(bus_settings, registry=CollectorRegistry())
    nc = await nats.connect(url, name="bench-raw", pending_size=bus_settings.reconnect_buffer_bytes)
    try:
        frames = make_frames(n_frames)
        avg_bytes = sum(map(len, frames)) / len(frames)
        load = os.getloadavg()
        print(
            f"machine: {os.cpu_count()} CPUs, {platform.machine()}, load {load[0]:.2f} "
            f"{load[1]:.2f} {load[2]:.2f}, Python {sys.version.split()[0]}, "
            f"nats-py {version('nats-py')}, msgspec {version('msgspec')}, "
            f"nats-server {nc.connected_server_version}"
        )
        print(
            f"JetStream file storage on loopback; {len(frames):,} frames ({avg_bytes:.0f} B avg; "
            f"{len(PRODUCTS)} products); median of {RUNS} interleaved runs"
        )
        works = [await dry_run(bus_settings, frames, publish_raw=raw) for raw in (True, False)]
        runs: list[Callable[[], Awaitable[float]]] = []
        for work in works:
            runs.append(lambda work=work: connector_run(bus, bus_settings, work))  # type: ignore[misc]
            runs.append(lambda work=work: ceiling_run(bus, bus_settings, nc, work))  # type: ignore[misc]
        medians = await median_of_runs(runs)
        for i, work in enumerate(works):
            mine_s, ceiling_s = medians[2 * i], medians[2 * i + 1]
            msgs = len(work.messages)
            print(f"{work.label}: {work.events:,} events, {msgs:,} messages")
            print(
                f"  connector  {work.events / mine_s:>10,.0f} events/s  "
                f"{msgs / mine_s:>10,.0f} msg/s  ({len(frames) / mine_s:,.0f} frames/s)"
            )
            print(
                f"  raw ceiling{work.events / ceiling_s:>10,.0f} events/s  "
                f"{msgs / ceiling_s:>10,.0f} msg/s  (same messages, pre-encoded)"
            )
            print(f"  => connector at {ceiling_s / mine_s:.0%} of the raw ceiling")
    finally:
        await nc.close()
        await bus.close()


async def main(args: argparse.Namespace) -> None:
    n_frames = 10_000 if args.quick else 40_000
    with tempfile.TemporaryDirectory(prefix="ssmd-bench-") as tmp:
        server = NatsServer(Path(tmp), store="file").start()
        try:
            await bench(server.url, n_frames)
        finally:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small N, for a smoke run")
    asyncio.run(main(parser.parse_args()))
