"""Benchmark of ssmd.bus against the fastest plain nats-py code, on one loopback server.

Run: ``.venv/bin/python bench/bench_bus.py`` (about a minute and a half; ``--quick`` for a
smoke run, ``--sweep`` to also try Publisher windows). It starts its own nats-server with
file storage (as in production) in a temporary directory and prints, each as the median of
three runs:

  a. raw ceiling for acked JetStream publishes: the faster of nats-py's ``publish_async``
     and a hand-written pipeline (core publish with a reply inbox, acks counted on one
     wildcard subscription and checked for errors, nothing else), both with ``Nats-Msg-Id``;
  b. ssmd.bus ``Publisher``: the same, plus trace headers, ack timeouts and metrics;
  c. for reference, ``await js.publish()`` one message at a time;
  d. ssmd.bus ``DurableConsumer``: pull, handler call, ack;
  e. raw consumer ceiling: the same pull requests, acking straight in the inbox callback;
     and for reference nats-py's ``fetch()`` loop.

Payloads are 200 bytes with unique msg ids. Server and client share the machine's cores,
so absolute figures move with it; the ratios are what to read.
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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from prometheus_client import CollectorRegistry

from ssmd.bus import (
    Bus,
    BusSettings,
    ConsumerSpec,
    DurableConsumer,
    Message,
    Publisher,
    StreamSpec,
    connect,
    provision,
)
from ssmd.embedded.servers import NatsServer

PAYLOAD = b"x" * 200
RUNS = 3
RUN_TIMEOUT_S = 60.0
WINDOW = 4096  # messages in flight for the raw pipeline (the Publisher uses its setting)

Run = Callable[[int], Awaitable[float]]  # run number -> msg/s


@dataclass(frozen=True)
class Case:
    label: str
    n: int
    run: Run


async def _interleaved(cases: list[Case], cleanup: Callable[[], Awaitable[None]]) -> list[float]:
    """Run every case once per round, RUNS rounds, so all see the same machine weather.

    Prints and returns each case's median msg/s.
    """
    rates: list[list[float]] = [[] for _ in cases]
    for round_no in range(RUNS):
        for case, out in zip(cases, rates, strict=True):
            async with asyncio.timeout(RUN_TIMEOUT_S):
                out.append(await case.run(round_no))
            await cleanup()
    medians = []
    for case, out in zip(cases, rates, strict=True):
        median = statistics.median(out)
        shown = ", ".join(f"{r:,.0f}" for r in out)
        print(f"  {case.label:<44} {median:>10,.0f} msg/s   (N={case.n:,}; runs: {shown})")
        medians.append(median)
    return medians


class Bench:
    def __init__(self, bus: Bus, nc: NatsClient, js: JetStreamContext, n_pub: int) -> None:
        self.bus = bus
        self.nc = nc
        self.js = js
        self.n_pub = n_pub
        self._streams = 0

    async def fresh_stream(self) -> str:
        """A new file-storage stream; returns its subject prefix."""
        self._streams += 1
        name = f"BENCH_{self._streams}"
        await provision(self.bus, streams=[StreamSpec(name=name, subjects=(f"bench{name}.>",))])
        return f"bench{name}"

    async def drop_streams(self) -> None:
        for i in range(1, self._streams + 1):
            await self.js.delete_stream(f"BENCH_{i}")
        self._streams = 0

    async def stored(self, prefix: str) -> int:
        info = await self.js.stream_info(prefix.removeprefix("bench"))
        return info.state.messages

    # -- publishing ----------------------------------------------------------------------
    async def raw_publish_async(self, run: int) -> float:
        prefix = await self.fresh_stream()
        js = self.js
        started = time.perf_counter()
        for i in range(self.n_pub):
            await js.publish_async(f"{prefix}.a", PAYLOAD, headers={"Nats-Msg-Id": f"{run}-{i}"})
        await js.publish_async_completed()
        rate = self.n_pub / (time.perf_counter() - started)
        assert await self.stored(prefix) == self.n_pub
        return rate

    async def raw_pipeline(self, run: int) -> float:
        """Core publish with a reply inbox; acks counted on one wildcard subscription."""
        prefix = await self.fresh_stream()
        nc = self.nc
        inbox = nc.new_inbox() + "."
        n = self.n_pub
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
        started = time.perf_counter()
        for i in range(n):
            if state["in_flight"] >= WINDOW:
                room.clear()
                await room.wait()
            state["in_flight"] += 1
            await nc.publish(f"{prefix}.a", PAYLOAD, inbox + str(i), {"Nats-Msg-Id": f"{run}-{i}"})
        await done.wait()
        rate = n / (time.perf_counter() - started)
        await sub.unsubscribe()
        assert state["failed"] == 0
        assert await self.stored(prefix) == n
        return rate

    async def publisher(self, run: int, window: int | None = None) -> float:
        prefix = await self.fresh_stream()
        started = time.perf_counter()
        async with Publisher(self.bus, max_in_flight=window, name="bench") as pub:
            for i in range(self.n_pub):
                await pub.publish(f"{prefix}.a", PAYLOAD, msg_id=f"{run}-{i}")
        rate = self.n_pub / (time.perf_counter() - started)
        assert await self.stored(prefix) == self.n_pub
        return rate

    async def one_at_a_time(self, run: int, n: int) -> float:
        prefix = await self.fresh_stream()
        started = time.perf_counter()
        for i in range(n):
            await self.js.publish(f"{prefix}.a", PAYLOAD, headers={"Nats-Msg-Id": f"{run}-{i}"})
        return n / (time.perf_counter() - started)

    # -- consuming -----------------------------------------------------------------------
    async def fill(self, n: int) -> str:
        """A stream holding `n` messages for the consumer runs; returns its name."""
        prefix = await self.fresh_stream()
        async with Publisher(self.bus, name="fill") as pub:
            for i in range(n):
                await pub.publish(f"{prefix}.a", PAYLOAD, msg_id=f"fill-{i}")
        return prefix.removeprefix("bench")

    async def durable_consumer(self, stream: str, run: int, n: int) -> float:
        seen = 0
        done = asyncio.Event()

        async def handler(_message: Message) -> None:
            nonlocal seen
            seen += 1
            if seen == n:
                done.set()

        spec = ConsumerSpec(stream=stream, durable=f"ssmd{run}", max_ack_pending=100_000)
        consumer = DurableConsumer(self.bus, spec, handler, dead_letter_subject="bench.dlq")
        await provision(self.bus, consumers=[spec])
        started = time.perf_counter()
        task = asyncio.create_task(consumer.run())
        try:
            await done.wait()
            rate = n / (time.perf_counter() - started)
        finally:
            consumer.stop()
            await task
        return rate

    async def raw_pull(self, stream: str, run: int, n: int, batch: int) -> float:
        """Pull requests to an inbox; ack in the callback; two batches outstanding."""
        durable = f"raw{run}"
        await self.js.add_consumer(
            stream, durable_name=durable, ack_policy="explicit", max_ack_pending=100_000
        )
        nc = self.nc
        inbox = nc.new_inbox()
        state = {"credits": 0, "acked": 0}
        wake = asyncio.Event()
        done = asyncio.Event()

        async def on_msg(msg: Msg) -> None:
            if not msg.reply:  # status: the request ended
                state["credits"] = 0
                wake.set()
                return
            state["credits"] -= 1
            await nc.publish(msg.reply, b"+ACK")
            state["acked"] += 1
            if state["credits"] <= batch:
                wake.set()
            if state["acked"] == n:
                done.set()
                wake.set()

        sub = await nc.subscribe(inbox, cb=on_msg)
        request = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        started = time.perf_counter()
        while not done.is_set():
            if state["credits"] <= batch:
                body = json.dumps({"batch": batch, "expires": 5_000_000_000}).encode()
                await nc.publish(request, body, reply=inbox)
                state["credits"] += batch
                continue
            wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await wake.wait()
        rate = n / (time.perf_counter() - started)
        await sub.unsubscribe()
        return rate

    async def fetch_loop(self, stream: str, run: int, n: int) -> float:
        await self.js.add_consumer(
            stream, durable_name=f"fetch{run}", ack_policy="explicit", max_ack_pending=100_000
        )
        psub = await self.js.pull_subscribe_bind(durable=f"fetch{run}", stream=stream)
        started = time.perf_counter()
        got = 0
        while got < n:
            for msg in await psub.fetch(min(1000, n - got), timeout=5):
                await msg.ack()
                got += 1
        rate = n / (time.perf_counter() - started)
        await psub.unsubscribe()
        return rate


@dataclass(frozen=True)
class Sizes:
    publish: int
    one_at_a_time: int
    consume: int
    fetch: int


async def _nothing() -> None:
    return None


async def main(args: argparse.Namespace) -> None:
    if args.quick:
        sizes = Sizes(publish=20_000, one_at_a_time=2_000, consume=40_000, fetch=10_000)
    else:
        sizes = Sizes(publish=100_000, one_at_a_time=5_000, consume=200_000, fetch=50_000)
    with tempfile.TemporaryDirectory(prefix="ssmd-bench-") as tmp:
        server = NatsServer(Path(tmp), store="file").start()
        try:
            await _bench(server.url, sizes, sweep=args.sweep)
        finally:
            server.stop()


async def _bench(url: str, sizes: Sizes, *, sweep: bool) -> None:
    n_pub, n_one, n_cons, n_fetch = sizes.publish, sizes.one_at_a_time, sizes.consume, sizes.fetch
    settings = BusSettings(urls=(url,), name="bench")
    bus = await connect(settings, registry=CollectorRegistry())
    nc = await nats.connect(url, name="bench-raw", pending_size=settings.reconnect_buffer_bytes)
    js = nc.jetstream()
    bench = Bench(bus, nc, js, n_pub)
    server_version = nc.connected_server_version
    print(
        f"machine: {os.cpu_count()} CPUs, {platform.machine()}, Python {sys.version.split()[0]}, "
        f"nats-py {version('nats-py')}, nats-server {server_version}"
    )
    print(
        f"JetStream file storage on loopback; {len(PAYLOAD)}-byte payloads; unique msg ids; "
        f"median of {RUNS} runs, interleaved"
    )
    try:
        print("publish (acked by JetStream):")
        pa, pipe, mine, _ = await _interleaved(
            [
                Case("a1. raw nats-py publish_async", n_pub, bench.raw_publish_async),
                Case(f"a2. raw pipeline, window {WINDOW}", n_pub, bench.raw_pipeline),
                Case(
                    f"b.  ssmd Publisher, window {settings.publish_max_in_flight}",
                    n_pub,
                    bench.publisher,
                ),
                Case(
                    "c.  await js.publish(), one at a time",
                    n_one,
                    lambda run: bench.one_at_a_time(run, n_one),
                ),
            ],
            bench.drop_streams,
        )
        ceiling = max(pa, pipe)
        print(f"  => Publisher at {mine / ceiling:.0%} of the raw ceiling ({ceiling:,.0f} msg/s)")
        if sweep:
            print("Publisher window sweep (one run each):")
            for window in (256, 1024, 2048, 4096, 8192, 16384):
                rate = await bench.publisher(100 + window, window)
                print(f"  window {window:>6}: {rate:>10,.0f} msg/s")
                await bench.drop_streams()

        print("consume (pull, handle, ack):")
        stream = await bench.fill(n_cons)
        batch = settings.consumer_batch_size
        cons, raw, _ = await _interleaved(
            [
                Case(
                    f"d.  ssmd DurableConsumer, batch {batch}",
                    n_cons,
                    lambda run: bench.durable_consumer(stream, run, n_cons),
                ),
                Case(
                    f"e1. raw pull loop, batch {batch}",
                    n_cons,
                    lambda run: bench.raw_pull(stream, run, n_cons, batch),
                ),
                Case(
                    "e2. nats-py fetch(1000) + ack",
                    n_fetch,
                    lambda run: bench.fetch_loop(stream, run, n_fetch),
                ),
            ],
            _nothing,
        )
        print(f"  => DurableConsumer at {cons / raw:.0%} of the raw pull loop")
        await bench.drop_streams()
    finally:
        await nc.close()
        await bus.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small N, for a smoke run")
    parser.add_argument("--sweep", action="store_true", help="also sweep Publisher windows")
    asyncio.run(main(parser.parse_args()))
