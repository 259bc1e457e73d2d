"""Fixtures of the store and sync tests: a migrated database, simulators, sync runners.

* `pool`: a pool on `postgres_dsn` (a fresh database) with the ``secmaster`` schema
  migrated from the package's migrations;
* `second_dsn`: another fresh, empty database on the same server (to compare two syncs);
* `simulators`: starts in-process venue simulators on free ports, stopped after the test;
* `stub_servers`: serves a hand-made aiohttp app (odd venue answers) on a free port;
* `runners`: builds `SyncRunner`s against given simulators (their HTTP sessions closed
  after the test);
* `synckit`: helpers (settings for simulators, market name generators, row readers).

The relay/cache/API tests keep their own fixtures in ``tests/api/conftest.py``. Test
modules cannot import this file (``--import-mode=importlib``): helpers reach them through
the `synckit` fixture.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import ssmd.secmaster
from ssmd.core.clock import LiveClock
from ssmd.db import Pool, create_pool, migrate
from ssmd.embedded.postgres import PostgresServer
from ssmd.secmaster.settings import SecmasterSettings
from ssmd.secmaster.sync import SyncRunner
from ssmd.simulator.app import Simulator
from ssmd.simulator.settings import SimulatorSettings

SCHEMA = "secmaster"
MIGRATIONS = Path(ssmd.secmaster.__file__).parent / "migrations"
_second_numbers = itertools.count(1)

SimulatorFactory = Callable[..., Awaitable[Simulator]]
RunnerFactory = Callable[..., SyncRunner]
StubFactory = Callable[[web.Application], Awaitable[str]]


async def open_pool(dsn: str) -> Pool:
    """A pool on `dsn` with the secmaster schema migrated."""
    db = await create_pool(dsn, schema=SCHEMA, max_size=10)
    await migrate(db, schema=SCHEMA, migrations_dir=MIGRATIONS)
    return db


@pytest.fixture
async def pool(postgres_dsn: str) -> AsyncIterator[Pool]:
    """A pool on a fresh database with the secmaster schema migrated."""
    db = await open_pool(postgres_dsn)
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
def second_dsn(postgres_server: PostgresServer, postgres_dsn: str) -> Iterator[str]:
    """DSN of a second fresh database (not migrated), dropped after the test."""
    name = f"secmaster_second_{next(_second_numbers)}"
    postgres_server.create_database(name)
    yield postgres_server.dsn_for(name)
    if postgres_server.is_running:
        postgres_server.drop_database(name)


@pytest.fixture
async def simulators() -> AsyncIterator[SimulatorFactory]:
    """``await simulators("kalshi", markets=[...], **settings)``: a started simulator.

    Quiet by default (``events_per_s`` 0): no synthetic trading, so a venue's listing only
    changes when a test changes it (trading near 0 or 1 moves Polymarket tick sizes).
    """
    started: list[Simulator] = []

    async def start(venue: str, **overrides: Any) -> Simulator:
        values: dict[str, Any] = {"events_per_s": 0.0, **overrides}
        settings = SimulatorSettings.load(venue=venue, port=0, **values)
        simulator = Simulator(settings)
        await simulator.start()
        started.append(simulator)
        return simulator

    yield start
    for simulator in reversed(started):
        await simulator.stop()


@pytest.fixture
async def stub_servers() -> AsyncIterator[StubFactory]:
    """``url = await stub_servers(app)``: serve an aiohttp app on a free loopback port."""
    runners: list[web.AppRunner] = []

    async def serve(app: web.Application) -> str:
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    yield serve
    for runner in runners:
        await runner.cleanup()


def sync_settings(sims: dict[str, Simulator], **overrides: Any) -> SecmasterSettings:
    """Settings that sync the venues of `sims` (venue -> simulator) from the simulators."""
    urls: dict[str, Any] = {}
    for venue, simulator in sims.items():
        if venue == "kalshi":
            urls["kalshi_rest_url"] = f"{simulator.url}/trade-api/v2"
        elif venue == "kraken_futures":
            urls["kraken_futures_rest_url"] = f"{simulator.url}/derivatives/api/v3"
        else:
            urls["polymarket_clob_url"] = simulator.url
            urls["polymarket_gamma_url"] = f"{simulator.url}/gamma"
    values: dict[str, Any] = {
        "venues": tuple(sims),
        "rest_requests_per_s": 1000.0,
        "rest_timeout_s": 30.0,
        "rest_attempts": 3,
        **urls,
        **overrides,
    }
    return SecmasterSettings(**values)


@pytest.fixture
async def runners(pool: Pool) -> AsyncIterator[RunnerFactory]:
    """``runners(settings, pool=None)``: a `SyncRunner` on `pool` (default: the test's)."""
    sessions: list[aiohttp.ClientSession] = []

    def build(settings: SecmasterSettings, *, on: Pool | None = None) -> SyncRunner:
        http = aiohttp.ClientSession()
        sessions.append(http)
        return SyncRunner(on or pool, settings, http=http, clock=LiveClock())

    yield build
    for http in sessions:
        await http.close()


def kalshi_tickers(count: int, *, strikes_per_event: int = 10, prefix: str = "KXS") -> list[str]:
    """`count` valid SERIES-EVENT-STRIKE tickers: 10 series, events of `strikes_per_event`."""
    tickers = []
    for n in range(count):
        event, strike = divmod(n, strikes_per_event)
        tickers.append(f"{prefix}{event % 10}-E{event:05d}-T{strike}")
    return tickers


def polymarket_slugs(count: int, *, prefix: str = "pm-market") -> list[str]:
    return [f"{prefix}-{n:05d}" for n in range(count)]


def kraken_symbols(count: int) -> list[str]:
    """`count` linear perpetuals PF_<BASE>USD with made-up bases."""
    return [f"PF_B{n:04d}USD" for n in range(count)]


async def market_rows(db: Pool) -> list[tuple[str, str, int, bool]]:
    """(market_id, content_hash, version, listed) of every market, ordered."""
    rows = await db.fetch(
        "SELECT market_id, content_hash, version, listed FROM markets ORDER BY market_id"
    )
    return [(r["market_id"], r["content_hash"], r["version"], r["listed"]) for r in rows]


async def outbox_count(db: Pool) -> int:
    return int(await db.fetchval("SELECT count(*) FROM outbox"))


async def post_lifecycle(simulator: Simulator, product: str, action: str, **extra: str) -> None:
    """``POST /control/lifecycle`` on `simulator`; fails the test on an error answer."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{simulator.url}/control/lifecycle",
            json={"product": product, "action": action, **extra},
        ) as answer,
    ):
        body = await answer.text()
        assert answer.status == 200, body


async def until(condition: Callable[[], Awaitable[bool]], timeout_s: float = 20.0) -> None:
    """Poll `condition` until it holds (TimeoutError after `timeout_s`)."""
    async with asyncio.timeout(timeout_s):
        while True:
            if await condition():
                return
            await asyncio.sleep(0.02)


class SyncKit:
    """Helpers for the sync tests (reached through the `synckit` fixture)."""

    settings = staticmethod(sync_settings)
    kalshi_tickers = staticmethod(kalshi_tickers)
    polymarket_slugs = staticmethod(polymarket_slugs)
    kraken_symbols = staticmethod(kraken_symbols)
    market_rows = staticmethod(market_rows)
    outbox_count = staticmethod(outbox_count)
    post_lifecycle = staticmethod(post_lifecycle)
    open_pool = staticmethod(open_pool)
    until = staticmethod(until)


@pytest.fixture
def synckit() -> type[SyncKit]:
    return SyncKit
