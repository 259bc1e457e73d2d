"""Benchmark of the connector's frame path against raw nats-py publishing, on one loopback server.

Run: ``.venv/bin/python bench/bench_connector.py`` (about a minute; ``--quick`` for a smoke
run; ``--venue kalshi`` for one venue). It starts its own nats-server with file storage (as
in production) in a temporary directory and, for each venue (Kraken Futures, Kalshi,
Polymarket), generates synthetic frames in the venue's wire format (book snapshots, then
~90 % book updates and ~10 % trades over 10 markets; see ``venue_frames.py``) and measures,
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
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from prometheus_client import CollectorRegistry
from venue_frames import GENERATORS, polymarket_tokens

from ssmd.bus import Bus, BusSettings, Publisher, connect, provision
from ssmd.connector.app import Connector
from ssmd.connector.settings import ConnectorSettings
from ssmd.embedded.servers import NatsServer

RUNS = 3
RUN_TIMEOUT_S = 60.0
WINDOW = 4096  # raw pipeline's messages in flight (the Publisher uses its own setting)
ENV = "bench"
SEED = 7

Message = tuple[str, bytes, str, dict[str, str]]


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


def new_connector(
    bus_settings: BusSettings, venue: str, symbols: list[str], *, publish_raw: bool
) -> Connector:
    settings = ConnectorSettings(
        venue=venue, markets=symbols, publish_raw=publish_raw, ws_url="ws://127.0.0.1:1/x"
    )
    connector = Connector(
        settings, bus_settings=bus_settings, env=ENV, registry=CollectorRegistry()
    )
    connector.markets = [connector.adapter.market_id(s) for s in symbols]
    index = getattr(connector.adapter, "index", None)
    if index is not None:  # Polymarket: the token ids REST discovery would have found
        for i in range(len(symbols)):
            index.add(polymarket_tokens(i))
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
    venue: str
    symbols: list[str]
    publish_raw: bool
    frames: list[bytes]
    messages: list[Message]
    events: int

    def connector(self, bus_settings: BusSettings) -> Connector:
        return new_connector(bus_settings, self.venue, self.symbols, publish_raw=self.publish_raw)


async def dry_run(
    bus_settings: BusSettings, venue: str, n_frames: int, *, publish_raw: bool
) -> Workload:
    symbols, frames = GENERATORS[venue](n_frames, SEED)
    connector = new_connector(bus_settings, venue, symbols, publish_raw=publish_raw)
    recorder = Recorder()
    events = await feed(connector, frames, recorder)
    assert connector.stats.malformed_frames == 0, "the benchmark's frames must all parse"
    label = f"{venue}, raw frames {'on' if publish_raw else 'off'}"
    return Workload(label, venue, symbols, publish_raw, frames, recorder.messages, events)


async def connector_run(bus: Bus, bus_settings: BusSettings, work: Workload) -> float:
    """Seconds for the connector to get every message of `work` acknowledged."""
    connector = work.connector(bus_settings)
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
    connector = work.connector(bus_settings)
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


async def bench(url: str, n_frames: int, venues: list[str]) -> None:
    bus_settings = BusSettings(urls=(url,), name="bench-connector")
    bus = await connect(bus_settings, registry=CollectorRegistry())
    nc = await nats.connect(url, name="bench-raw", pending_size=bus_settings.reconnect_buffer_bytes)
    try:
        load = os.getloadavg()
        print(
            f"machine: {os.cpu_count()} CPUs, {platform.machine()}, load {load[0]:.2f} "
            f"{load[1]:.2f} {load[2]:.2f}, Python {sys.version.split()[0]}, "
            f"nats-py {version('nats-py')}, msgspec {version('msgspec')}, "
            f"nats-server {nc.connected_server_version}"
        )
        print(
            f"JetStream file storage on loopback; {n_frames:,} frames per venue (10 markets); "
            f"median of {RUNS} interleaved runs"
        )
        works = [
            await dry_run(bus_settings, venue, n_frames, publish_raw=raw)
            for venue in venues
            for raw in (True, False)
        ]
        runs: list[Callable[[], Awaitable[float]]] = []
        for work in works:
            runs.append(lambda work=work: connector_run(bus, bus_settings, work))  # type: ignore[misc]
            runs.append(lambda work=work: ceiling_run(bus, bus_settings, nc, work))  # type: ignore[misc]
        medians = await median_of_runs(runs)
        for i, work in enumerate(works):
            mine_s, ceiling_s = medians[2 * i], medians[2 * i + 1]
            msgs = len(work.messages)
            frames = work.frames
            avg_bytes = sum(map(len, frames)) / len(frames)
            print(
                f"{work.label}: {work.events:,} events, {msgs:,} messages, {avg_bytes:.0f} B/frame"
            )
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
    venues = [args.venue] if args.venue else list(GENERATORS)
    with tempfile.TemporaryDirectory(prefix="ssmd-bench-") as tmp:
        server = NatsServer(Path(tmp), store="file").start()
        try:
            await bench(server.url, n_frames, venues)
        finally:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small N, for a smoke run")
    parser.add_argument("--venue", choices=sorted(GENERATORS), help="one venue only")
    asyncio.run(main(parser.parse_args()))
