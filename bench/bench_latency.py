"""Tick latency of the Kraken Futures path: venue send -> connector -> NATS -> a subscriber.

Run: ``.venv/bin/python bench/bench_latency.py`` (about a minute; ``--quick`` for a smoke
run). Everything is real and on loopback: a nats-server with JetStream file storage (as in
production), the simulator (``python -m ssmd.simulator``, synthetic markets at 10k
events/s) and one connector (``python -m ssmd.connector``, raw frames published too, as by
default) as subprocesses, and the subscriber in this process.

Tick latency = the subscriber's receive time (``time.time_ns()`` when the message is
handed to it) - the simulator's send time of the venue frame behind the event (the ledger's
``ts_ns``: wall clock, in ns, taken right after the frame's batch was written to the
socket). Events are matched to frames by (product, feed, venue seq): every ``book`` delta
and ``trade``; snapshots, tickers and gaps are left out. The same clock serves every
process, so no offset needs estimating. Two subscribers, taking turns (never both at once,
so neither slows the other; alternating, so both see the same drift of the load):

  a. ``ssmd.bus.OrderedTail`` on the MD stream (an ephemeral JetStream pull consumer: what
     the gateway uses; ssmd.bus has no core-NATS subscription API);
  b. a core NATS subscription of the md subjects (nats-py), as a live consumer would use.

Next to them, measured in the same run on the same server once the venue is stalled, two
ceilings of raw nats-py core publish -> subscribe with messages of the median event's size,
each stamped with ``time.time_ns()`` just before its publish:

  * same rate: the publisher (a child process, as the venue and connector are) sends the
    same rate in the same bursts (the simulator writes one batch per 10 ms step, so 100
    frames at once at 10k/s: the last of a burst waits for the 99 before it at every hop);
  * one by one: one message in flight at a time, the floor with no queueing at all.

Goals: p50 <= 1 ms and p99 <= 5 ms. ``--events-per-s``, ``--step-s`` and ``--no-raw``
(connector ``publish_raw=false``) show how the figures move with load and burst size. All
processes share the machine's cores, so figures move with its load (printed).

On the shared 2-core dev machine (load ~1), p50 / p99 in ms, core subscription (b):

  10k events/s (10.9k frames/s), raw on      16-33 / 125-280   connector at 85-93 % of a core
  10k events/s, ``--no-raw``                  9 / 37           connector at 60 %
  2k events/s (2.8k frames/s)                 3.7 / 10
  ceiling, same rate, 100-message bursts      1.5-1.8 / 2.5-2.7
  ceiling, one by one                         0.21-0.27 / 0.33-0.44

The goals are not met at 10k events/s: the connector spends ~85 us of CPU per frame (about
half of it in nats-py: two JetStream publishes and two acks per frame with raw frames on),
so it runs near saturation, and each 10 ms burst makes its last frame wait for the ones
before it (~100 x 85 us) before any backlog. Even raw nats-py misses p50 <= 1 ms with the
same bursts in Python; one message at a time it is ~0.25 ms.
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
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import msgspec
import nats
from nats.aio.msg import Msg
from prometheus_client import CollectorRegistry

from ssmd.bus import BusSettings, Message, OrderedTail, TailStart, connect
from ssmd.contracts.subjects import md_stream
from ssmd.embedded import NatsServer, ServiceProcess, free_port

VENUE = "kraken_futures"
MARKETS = ("PF_XBTUSD", "PF_ETHUSD", "PF_SOLUSD", "FF_XBTUSD_270326")
STEP_S = 0.01  # the simulator's generation step: one batch of frames per step
GOAL_P50_MS = 1.0
GOAL_P99_MS = 5.0
HTTP_TIMEOUT_S = 60.0
NS_PER_MS = 1_000_000


class _Event(msgspec.Struct):
    """The fields of a canonical event this benchmark reads (the rest is ignored)."""

    type: str
    market: str
    ts_recv_ns: int
    seq: int | None = None


class _LedgerEntry(msgspec.Struct):
    ts_ns: int
    feed: str
    product: str | None = None
    seq: int | None = None


_decode_event = msgspec.json.Decoder(_Event).decode
_decode_entry = msgspec.json.Decoder(_LedgerEntry).decode
_FEED_OF_TYPE = {"book_delta": "book", "trade": "trade"}


@dataclass(frozen=True, slots=True)
class Figures:
    """Percentiles of one set of latencies, in ms."""

    count: int
    p50: float
    p90: float
    p99: float
    max: float

    @classmethod
    def of(cls, latencies_ns: Sequence[int]) -> Figures:
        if len(latencies_ns) < 100:
            raise SystemExit(f"only {len(latencies_ns)} latencies measured: nothing to report")
        cuts = statistics.quantiles(latencies_ns, n=100, method="inclusive")
        return cls(
            count=len(latencies_ns),
            p50=cuts[49] / NS_PER_MS,
            p90=cuts[89] / NS_PER_MS,
            p99=cuts[98] / NS_PER_MS,
            max=max(latencies_ns) / NS_PER_MS,
        )

    def row(self, label: str) -> str:
        return (
            f"  {label:<48} {self.count:>9,} {self.p50:>8.3f} {self.p90:>8.3f} "
            f"{self.p99:>8.3f} {self.max:>9.3f}"
        )


Received = list[tuple[int, bytes]]
"""(receive time ns, payload) of every message a subscriber got, in order."""


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    usable = len(os.sched_getaffinity(0))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"machine: {platform.platform()}; {model}; {os.cpu_count()} logical CPUs "
        f"({usable} usable); load {load}; Python {platform.python_version()}, "
        f"nats-py {version('nats-py')}, msgspec {version('msgspec')}"
    )


def http(url: str, body: object | None = None) -> bytes:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - a loopback URL built here
        url, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as answer:  # noqa: S310
        payload: bytes = answer.read()
        return payload


class Mesh:
    """nats-server, simulator and connector as processes under one temp dir."""

    def __init__(
        self, root: Path, events_per_s: float, *, step_s: float, publish_raw: bool
    ) -> None:
        self.env = "bench" + uuid.uuid4().hex[:6]
        self.nats = NatsServer(root / "nats", store="file")
        self.venue_url = f"http://127.0.0.1:{free_port()}"
        port = self.venue_url.rsplit(":", 1)[1]
        common = {"SSMD_RUNTIME_ENV": self.env, "SSMD_RUNTIME_LOG_LEVEL": "WARNING"}
        self.simulator = ServiceProcess(
            "ssmd.simulator",
            root / "simulator",
            env={
                **common,
                "SSMD_SIMULATOR_PORT": port,
                "SSMD_SIMULATOR_MARKETS": json.dumps(list(MARKETS)),
                "SSMD_SIMULATOR_EVENTS_PER_S": str(events_per_s),
                "SSMD_SIMULATOR_STEP_S": str(step_s),
            },
            wait_ready=True,
        )
        self.connector = ServiceProcess(
            "ssmd.connector",
            root / "connector",
            env={
                **common,
                "SSMD_CONNECTOR_WS_URL": f"ws://127.0.0.1:{port}/ws/v1",
                "SSMD_CONNECTOR_REST_URL": f"{self.venue_url}/derivatives/api/v3",
                "SSMD_CONNECTOR_MARKETS": json.dumps(list(MARKETS)),
                "SSMD_CONNECTOR_PUBLISH_RAW": "true" if publish_raw else "false",
            },
            wait_ready=True,
        )

    def start(self) -> None:
        self.nats.start()
        self.connector.set_env(SSMD_BUS_URLS=self.nats.url)
        self.simulator.start()
        self.connector.start()

    def stop(self) -> None:
        for process in (self.connector, self.simulator, self.nats):
            process.stop()

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system, s) used so far by each process of the path."""
        tick_s = 1 / os.sysconf("SC_CLK_TCK")
        pids = {
            "connector": self.connector.pid,
            "simulator": self.simulator.pid,
            "nats-server": self.nats.pid,
            "subscriber (this process)": os.getpid(),
        }
        out = {}
        for name, pid in pids.items():
            # Fields after the command name (which may hold spaces): utime, stime at 11, 12.
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[name] = (int(fields[11]) + int(fields[12])) * tick_s
        return out

    def stall_venue(self) -> None:
        http(f"{self.venue_url}/control/faults", {"action": "stall", "seconds": 600})

    def send_times(self) -> dict[tuple[str, str, int], int]:
        """(product, feed, seq) -> send time (ns) of every book and trade frame sent."""
        times: dict[tuple[str, str, int], int] = {}
        for feed in ("book", "trade"):
            body = http(f"{self.venue_url}/control/ledger?kind=data&feed={feed}&format=jsonl")
            for line in body.splitlines():
                entry = _decode_entry(line)
                if entry.product is not None and entry.seq is not None:
                    times[(entry.product, feed, entry.seq)] = entry.ts_ns
        return times


async def collect_tail(bus_url: str, env: str, seconds: float) -> Received:
    """What an `OrderedTail` of the MD stream receives in `seconds`, from now on."""
    bus = await connect(
        BusSettings(urls=(bus_url,), name="bench-latency-tail"), registry=CollectorRegistry()
    )
    received: Received = []
    keep = received.append
    now_ns = time.time_ns

    async def handle(message: Message) -> None:
        keep((now_ns(), message.data))

    stream = md_stream(env, VENUE)
    tail = OrderedTail(
        bus, stream.name, stream.subjects, handle, start=TailStart.new_only(), name="bench"
    )
    task = asyncio.create_task(tail.run(), name="bench-tail")
    try:
        await asyncio.sleep(seconds)
    finally:
        tail.stop()
        await task
        await bus.close()
    return received


async def collect_core(bus_url: str, env: str, seconds: float) -> Received:
    """What a core NATS subscription of the md subjects receives in `seconds`."""
    nc = await nats.connect(bus_url, name="bench-latency-core")
    received: Received = []
    keep = received.append
    now_ns = time.time_ns

    async def handle(msg: Msg) -> None:
        keep((now_ns(), msg.data))

    try:
        subscription = await nc.subscribe(
            md_stream(env, VENUE).subjects[0], cb=handle, pending_msgs_limit=1_000_000
        )
        await asyncio.sleep(seconds)
        await subscription.unsubscribe()
    finally:
        await nc.close()
    return received


def _stamped(size: int) -> Callable[[], bytes]:
    """Messages of `size` bytes that start with their send time (20 digits, ns)."""
    padding = b"x" * max(0, size - 20)
    return lambda: b"%020d" % time.time_ns() + padding


async def publish_bursts(  # noqa: PLR0917 - the child's arguments, in one place
    url: str, subject: str, size: int, rate_per_s: float, seconds: float, step_s: float
) -> None:
    """The ceiling's publisher (run in a child process, as the simulator and connector are
    not in the subscriber's process): one burst per `step_s` at `rate_per_s`."""
    nc = await nats.connect(url, name="bench-latency-ceiling-pub")
    message = _stamped(size)
    try:
        per_step = max(1, round(rate_per_s * step_s))
        next_at = time.monotonic()
        for _ in range(round(seconds / step_s)):
            for _ in range(per_step):
                await nc.publish(subject, message())
            await nc.flush()
            next_at += step_s
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    finally:
        await nc.close()


async def ceiling_bursts(
    url: str, size: int, rate_per_s: float, seconds: float, step_s: float
) -> list[int]:
    """Latencies (ns) of raw nats-py core publish -> subscribe, with the publisher (a child
    process) sending `size`-byte messages in the simulator's pattern."""
    nc = await nats.connect(url, name="bench-latency-ceiling-sub")
    latencies: list[int] = []
    keep = latencies.append
    now_ns = time.time_ns
    subject = "bench.latency.ceiling." + uuid.uuid4().hex[:8]

    async def handle(msg: Msg) -> None:
        keep(now_ns() - int(msg.data[:20]))

    try:
        subscription = await nc.subscribe(subject, cb=handle, pending_msgs_limit=1_000_000)
        await nc.flush()
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--publish-ceiling",
            json.dumps([url, subject, size, rate_per_s, seconds, step_s]),
        )
        try:
            async with asyncio.timeout(seconds + 30.0):
                code = await child.wait()
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
        if code != 0:
            raise SystemExit(f"the ceiling's publisher failed with status {code}")
        await asyncio.sleep(0.5)  # the last ones arrive
        await subscription.unsubscribe()
    finally:
        await nc.close()
    return latencies


async def ceiling_one_at_a_time(url: str, size: int, rounds: int) -> list[int]:
    """Latencies (ns) of raw nats-py core publish -> subscribe, one message in flight: the
    floor that transport and client add to any message, with no queueing at all."""
    pub = await nats.connect(url, name="bench-latency-floor-pub")
    sub = await nats.connect(url, name="bench-latency-floor-sub")
    latencies: list[int] = []
    arrived = asyncio.Event()
    now_ns = time.time_ns
    subject = "bench.latency.floor." + uuid.uuid4().hex[:8]
    message = _stamped(size)

    async def handle(msg: Msg) -> None:
        latencies.append(now_ns() - int(msg.data[:20]))
        arrived.set()

    try:
        await sub.subscribe(subject, cb=handle)
        await sub.flush()
        for _ in range(rounds):
            arrived.clear()
            await pub.publish(subject, message())
            async with asyncio.timeout(5.0):
                await arrived.wait()
    finally:
        await pub.close()
        await sub.close()
    return latencies


@dataclass(slots=True)
class Matched:
    total_ns: list[int]
    venue_to_connector_ns: list[int]
    connector_to_subscriber_ns: list[int]
    unmatched: int
    sizes: list[int]


def match(received: Received, sent: dict[tuple[str, str, int], int]) -> Matched:
    """Tick latencies of the book deltas and trades in `received`."""
    out = Matched([], [], [], 0, [])
    prefix = len(VENUE) + 1
    for recv_ns, data in received:
        event = _decode_event(data)
        feed = _FEED_OF_TYPE.get(event.type)
        if feed is None or event.seq is None:
            continue
        sent_ns = sent.get((event.market[prefix:], feed, event.seq))
        if sent_ns is None:
            out.unmatched += 1
            continue
        out.total_ns.append(recv_ns - sent_ns)
        out.venue_to_connector_ns.append(event.ts_recv_ns - sent_ns)
        out.connector_to_subscriber_ns.append(recv_ns - event.ts_recv_ns)
        out.sizes.append(len(data))
    return out


def verdict(figures: Figures) -> str:
    p50 = "met" if figures.p50 <= GOAL_P50_MS else "NOT met"
    p99 = "met" if figures.p99 <= GOAL_P99_MS else "NOT met"
    return f"p50 <= {GOAL_P50_MS:g} ms {p50}; p99 <= {GOAL_P99_MS:g} ms {p99}"


async def measure(mesh: Mesh, args: argparse.Namespace) -> None:
    url = mesh.nats.url
    await asyncio.sleep(args.warmup_s)
    runs: list[tuple[str, Callable[[str, str, float], Awaitable[Received]]]] = [
        ("a. md via ssmd.bus OrderedTail (JetStream)", collect_tail),
        ("b. md via core NATS subscription", collect_core),
    ]
    # Rounds alternate the subscribers, so that a drift of the load (a backlog building up
    # in a saturated connector) weighs on both alike.
    received: dict[str, Received] = {label: [] for label, _ in runs}
    window_ns = [time.time_ns(), 0]
    cpu_before = mesh.cpu_seconds()
    for _ in range(args.rounds):
        for label, collect in runs:
            received[label] += await collect(url, mesh.env, args.measure_s / args.rounds)
    window_ns[1] = time.time_ns()
    window_s = (window_ns[1] - window_ns[0]) / 1e9
    cpu = {name: (t - cpu_before[name]) / window_s for name, t in mesh.cpu_seconds().items()}
    await asyncio.to_thread(mesh.stall_venue)
    await asyncio.sleep(0.5)
    sent = await asyncio.to_thread(mesh.send_times)
    in_window = sum(1 for ts in sent.values() if window_ns[0] <= ts < window_ns[1])
    print(
        f"  the venue sent {in_window / window_s:,.0f} book and trade frames/s; CPU used: "
        + ", ".join(f"{name} {share:.0%}" for name, share in cpu.items())
        + " (of one core)",
        flush=True,
    )
    results = [(label, match(got, sent)) for label, got in received.items()]
    sizes = [size for _, matched in results for size in matched.sizes]
    size = round(statistics.median(sizes)) if sizes else 200
    rate = args.events_per_s
    bursts_ns = await ceiling_bursts(url, size, rate, args.ceiling_s, args.step_s)
    floor_ns = await ceiling_one_at_a_time(url, size, args.floor_rounds)

    print()
    print(
        f"tick latency, ms (venue send -> subscriber receive; book deltas and trades; "
        f"{rate:,.0f} events/s over {len(MARKETS)} products; median event {size} B)"
    )
    print(f"  {'':<48} {'events':>9} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>9}")
    for label, matched in results:
        total = Figures.of(matched.total_ns)
        print(total.row(label))
        print(Figures.of(matched.venue_to_connector_ns).row("     venue send -> connector receive"))
        print(
            Figures.of(matched.connector_to_subscriber_ns).row(
                "     connector receive -> subscriber"
            )
        )
        if matched.unmatched:
            print(f"     ({matched.unmatched:,} events with no ledger entry were left out)")
    ceilings = [
        (f"ceiling: nats-py pub -> sub, {size} B, same rate", Figures.of(bursts_ns)),
        (f"ceiling: nats-py pub -> sub, {size} B, one by one", Figures.of(floor_ns)),
    ]
    for label, figures in ceilings:
        print(figures.row(label))
    print()
    for label, matched in results:
        print(f"goals, {label}: {verdict(Figures.of(matched.total_ns))}")
    for label, figures in ceilings:
        print(f"goals, {label}: {verdict(figures)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--events-per-s", type=float, default=10_000.0)
    parser.add_argument("--warmup-s", type=float, default=3.0)
    parser.add_argument("--measure-s", type=float, default=15.0, help="per subscriber")
    parser.add_argument("--rounds", type=int, default=3, help="alternations of subscribers")
    parser.add_argument("--ceiling-s", type=float, default=5.0)
    parser.add_argument("--floor-rounds", type=int, default=2000)
    parser.add_argument("--step-s", type=float, default=STEP_S, help="simulator step")
    parser.add_argument("--no-raw", action="store_true", help="connector: publish_raw=false")
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument("--publish-ceiling", help=argparse.SUPPRESS)  # the child's mode
    args = parser.parse_args(argv)
    if args.publish_ceiling:
        asyncio.run(publish_bursts(*json.loads(args.publish_ceiling)))
        return
    if args.quick:
        args.warmup_s, args.measure_s, args.ceiling_s, args.floor_rounds = 1.0, 2.0, 1.0, 200
        args.rounds = 1
    print(machine())
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ssmd-bench-latency-") as tmp:
        mesh = Mesh(Path(tmp), args.events_per_s, step_s=args.step_s, publish_raw=not args.no_raw)
        try:
            mesh.start()
            print(
                f"nats-server {mesh.nats.url} (JetStream file storage), simulator "
                f"{mesh.venue_url}, connector: all on loopback; started in "
                f"{time.monotonic() - began:.1f}s",
                flush=True,
            )
            asyncio.run(measure(mesh, args))
        finally:
            mesh.stop()
    print(f"total {time.monotonic() - began:.0f}s")


if __name__ == "__main__":
    main()
