"""Fixtures of the relay, cache, symbology and API tests: a migrated database, a clean
``SECMASTER`` stream, record builders, stream readers and an in-process secmaster.

Records are written through `ssmd.secmaster.store` exactly as a sync writes them, so every
change has its outbox row. The session's nats-server is shared, and ``SECMASTER`` has one
fixed name: the `bus` fixture deletes and re-creates the stream so each test starts empty.
Test modules cannot import this file (``--import-mode=importlib``): helpers reach them
through the `kit` fixture.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import nats.js.errors
import pytest
from prometheus_client import CollectorRegistry

import ssmd.secmaster
from ssmd.bus import Bus, BusSettings, Message, OrderedTail, TailStart, connect, provision
from ssmd.contracts.reference import OutcomeToken, ReferenceRecord
from ssmd.contracts.subjects import SECMASTER_STREAM
from ssmd.core.runtime import Service
from ssmd.db import DbSettings, Pool, create_pool, migrate
from ssmd.secmaster.app import Secmaster
from ssmd.secmaster.metrics import SecmasterMetrics
from ssmd.secmaster.model import MarketRecord
from ssmd.secmaster.relay import OutboxRelay, secmaster_stream_spec
from ssmd.secmaster.settings import SecmasterSettings
from ssmd.secmaster.store import apply_records, record_status
from ssmd.simulator.app import Simulator
from ssmd.simulator.settings import SimulatorSettings

SCHEMA = "secmaster"
MIGRATIONS = Path(ssmd.secmaster.__file__).parent / "migrations"
NOW_NS = 1_764_000_000_000_000_000  # 2025-11-24T16:00:00Z
DAY_NS = 86_400_000_000_000
KRAKEN_MARKETS = ("PF_XBTUSD", "PF_ETHUSD")  # what the Kraken simulator lists


def bus_settings(url: str, **overrides: Any) -> BusSettings:
    """Fast failure detection: a lost ack is re-sent after 1 s, reconnects within 0.5 s."""
    values: dict[str, Any] = {
        "urls": (url,),
        "name": "secmaster-test",
        "connect_deadline_s": 10.0,
        "reconnect_max_s": 0.5,
        "publish_ack_timeout_s": 1.0,
        "consumer_heartbeat_s": 0.5,
        "consumer_expires_s": 2.0,
        **overrides,
    }
    return BusSettings(**values)


def market(
    venue: str,
    symbol: str,
    *,
    title: str | None = None,
    status: str = "open",
    series: str | None = None,
    event: str | None = None,
    kind: str = "binary",
    close_ts_ns: int | None = None,
    tokens: Sequence[tuple[str, str, bool]] = (),
    attributes: dict[str, str] | None = None,
) -> MarketRecord:
    """A `MarketRecord` with the fields lookups filter on."""
    return MarketRecord(
        venue=venue,
        symbol=symbol,
        kind=kind,  # type: ignore[arg-type]
        status=status,  # type: ignore[arg-type]
        title=title,
        series=series,
        event=event,
        close_ts_ns=close_ts_ns,
        tokens=[OutcomeToken(token_id=t, outcome=o, is_yes=y) for t, o, y in tokens],
        attributes=attributes or {},
    )


async def apply(
    pool: Pool,
    venue: str,
    records: Iterable[MarketRecord],
    *,
    now_ns: int = NOW_NS,
    full_universe: bool = False,
) -> list[ReferenceRecord]:
    """`store.apply_records` in its own transaction, as a sync applies a venue."""
    async with pool.acquire() as conn, conn.transaction():
        return await apply_records(
            conn, venue, list(records), source="rest", now_ns=now_ns, full_universe=full_universe
        )


async def set_status(
    pool: Pool, market_id: str, status: str, result: str | None = None
) -> ReferenceRecord | None:
    """`store.record_status` in its own transaction, as the bus follower records one."""
    async with pool.acquire() as conn, conn.transaction():
        return await record_status(
            conn, market_id, status, result, source="bus", venue_ts_ns=NOW_NS, now_ns=NOW_NS
        )


async def unsent(pool: Pool) -> int:
    count = await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
    return int(count)


async def wait_until_sent(pool: Pool, timeout_s: float = 20.0) -> None:
    """Until every outbox row is marked sent."""
    async with asyncio.timeout(timeout_s):
        while True:
            if not await unsent(pool):
                return
            await asyncio.sleep(0.02)


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 10.0
) -> None:
    """Call `check` every 20 ms until it is true; fail naming `what` after `timeout_s`."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.02)


async def read_stream(bus: Bus, *, timeout_s: float = 10.0) -> list[Message]:
    """Every message ``SECMASTER`` holds now, in stream order."""
    done = asyncio.Event()
    messages: list[Message] = []

    async def keep(message: Message) -> None:
        messages.append(message)
        if message.num_pending == 0:
            done.set()

    tail = OrderedTail(
        bus,
        SECMASTER_STREAM.name,
        SECMASTER_STREAM.subjects,
        keep,
        start=TailStart.everything(),
        name="secmaster_test_reader",
    )
    task = asyncio.create_task(tail.run(), name="secmaster-test-reader")
    try:
        async with asyncio.timeout(timeout_s):
            while not done.is_set():
                if tail.stats.caught_up and tail.stats.last_stream_seq == 0:
                    break  # an empty stream
                await asyncio.sleep(0.01)
    finally:
        tail.stop()
        await task
    return messages


async def reset_secmaster_stream(bus: Bus, **spec: Any) -> None:
    """Delete ``SECMASTER`` (if any) and create it again, empty, as the service would."""
    with contextlib.suppress(nats.js.errors.NotFoundError):
        await bus.js.delete_stream(SECMASTER_STREAM.name)
    await provision(bus, streams=[secmaster_stream_spec(**spec)])


async def open_pool(dsn: str) -> Pool:
    """A pool on `dsn` with the secmaster schema migrated."""
    db = await create_pool(dsn, schema=SCHEMA, max_size=8)
    try:
        await migrate(db, schema=SCHEMA, migrations_dir=MIGRATIONS)
    except BaseException:
        await db.close()
        raise
    return db


class Kit:
    """The helpers of these tests, for test modules (they cannot import conftest)."""

    NOW_NS = NOW_NS
    DAY_NS = DAY_NS
    market = staticmethod(market)
    apply = staticmethod(apply)
    set_status = staticmethod(set_status)
    unsent = staticmethod(unsent)
    wait_until_sent = staticmethod(wait_until_sent)
    eventually = staticmethod(eventually)
    open_pool = staticmethod(open_pool)
    read_stream = staticmethod(read_stream)
    reset_secmaster_stream = staticmethod(reset_secmaster_stream)
    bus_settings = staticmethod(bus_settings)
    KRAKEN_MARKETS = KRAKEN_MARKETS


@pytest.fixture
def kit() -> type[Kit]:
    return Kit


@pytest.fixture
async def pool(postgres_dsn: str) -> AsyncIterator[Pool]:
    """A pool on a fresh database with the secmaster schema migrated."""
    db = await open_pool(postgres_dsn)
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    """A bus connection and an empty ``SECMASTER`` stream."""
    connection = await connect(bus_settings(nats_url), registry=CollectorRegistry())
    try:
        await reset_secmaster_stream(connection)
        yield connection
    finally:
        await connection.close()


RelayFactory = Callable[..., OutboxRelay]


@pytest.fixture
async def relays(pool: Pool, bus: Bus) -> AsyncIterator[RelayFactory]:
    """``relays(**options)``: an `OutboxRelay` running as a task; all cancelled after."""
    running: list[asyncio.Task[None]] = []

    def start(*, on: Bus | None = None, batch: int = 500, idle_s: float = 0.05) -> OutboxRelay:
        relay = OutboxRelay(
            pool,
            on or bus,
            batch=batch,
            idle_s=idle_s,
            metrics=SecmasterMetrics(CollectorRegistry()),
        )
        running.append(asyncio.create_task(relay.run(), name=f"relay-{len(running)}"))
        return relay

    try:
        yield start
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


@dataclass
class RunningSecmaster:
    """A secmaster running in-process (its Service task), with an HTTP client."""

    secmaster: Secmaster
    service: Service
    http: aiohttp.ClientSession
    task: asyncio.Task[int]
    simulator: Simulator
    samples: dict[str, float] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.secmaster.url

    async def get(self, path: str, **params: Any) -> tuple[int, Any]:
        query = {k: str(v) for k, v in params.items() if v is not None}
        async with self.http.get(self.url + path, params=query) as response:
            return response.status, json.loads(await response.read())

    async def post(self, path: str, body: Any = None, **params: Any) -> tuple[int, Any]:
        query = {k: str(v) for k, v in params.items() if v is not None}
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        async with self.http.post(
            self.url + path, params=query, data=data, headers=headers
        ) as response:
            return response.status, json.loads(await response.read())

    async def admin(self, path: str) -> tuple[int, str]:
        async with self.http.get(self.service.admin_url + path) as response:
            return response.status, await response.text()

    async def settle(self, pool: Pool, timeout_s: float = 20.0) -> None:
        """Until the first sync has applied, every outbox row is on SECMASTER and the cache
        invalidator has handled them all: no change can race what the test does next."""

        async def quiet() -> bool:
            if (await self.admin("/readyz"))[0] != 200 or await unsent(pool):
                return False
            if not self.secmaster.cache.enabled:
                return True
            info = await self.secmaster.bus.js.consumer_info(
                SECMASTER_STREAM.name, "secmaster-cache"
            )
            return not info.num_pending and not info.num_ack_pending

        await eventually(quiet, "the secmaster to settle", timeout_s)

    def metric(self, name: str, **labels: str) -> float:
        """A sample of the service's registry (0 when absent)."""
        value = self.service.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


SecmasterFactory = Callable[..., Awaitable[RunningSecmaster]]


@pytest.fixture
async def secmasters(
    postgres_dsn: str, nats_url: str, valkey_url: str, bus: Bus
) -> AsyncIterator[SecmasterFactory]:
    """``await secmasters(cache=True, **settings)``: a started secmaster syncing Kraken
    Futures from a simulator (two instruments); stopped after the test as SIGTERM would."""
    started: list[RunningSecmaster] = []
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))

    async def start(*, cache: bool | str = True, **overrides: Any) -> RunningSecmaster:
        simulator = Simulator(
            SimulatorSettings.load(
                venue="kraken_futures", port=0, markets=list(KRAKEN_MARKETS), events_per_s=1
            )
        )
        await simulator.start()
        cache_url = valkey_url if cache is True else (cache or None)
        values: dict[str, Any] = {
            "venues": ("kraken_futures",),
            "kraken_futures_rest_url": f"{simulator.url}/derivatives/api/v3",
            "rest_requests_per_s": 1000.0,
            "sync_interval_s": 3600.0,
            "port": 0,
            "cache_url": cache_url,
            "relay_idle_s": 0.05,
            **overrides,
        }
        service = Service("secmaster-test", registry=CollectorRegistry(), drain_timeout_s=10)
        secmaster = await Secmaster.open(
            SecmasterSettings(**values),
            env="t" + uuid.uuid4().hex[:10],
            db=DbSettings(dsn=postgres_dsn, pool_max_size=10),
            bus_settings=bus_settings(nats_url),
            service=service,
        )
        secmaster.register()
        await service.start_admin()
        task = asyncio.create_task(service.run(install_signal_handlers=False), name="secmaster")
        running = RunningSecmaster(secmaster, service, http, task, simulator)
        started.append(running)
        return running

    try:
        yield start
    finally:
        try:
            for running in started:
                running.service.request_stop()
                assert await asyncio.wait_for(running.task, timeout=20) == 0
        finally:
            for running in started:
                await running.simulator.stop()
            await http.close()
