"""Fixtures of the Polymarket simulator tests: a venue served on a free port, and clients.

The venue is the exchange alone behind its own aiohttp application (``add_routes``) with
its two loops running as tasks, so these tests do not depend on how the simulator service
wires venues together. `Client` reads market-channel frames (objects or arrays); `Books`
is a client-side copy of token books built from ``book`` and ``price_change`` messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from ssmd.core.clock import Clock, LiveClock
from ssmd.simulator.faults import FaultRequest
from ssmd.simulator.ledger import Ledger
from ssmd.simulator.metrics import SimulatorMetrics
from ssmd.simulator.polymarket.exchange import PolymarketExchange
from ssmd.simulator.settings import SimulatorSettings
from ssmd.simulator.venue import LifecycleRequest
from ssmd.testing.fixtures import venue_fixture

RECEIVE_TIMEOUT_S = 10.0
FIXTURES = "polymarket/nautilus_trader"
Message = dict[str, Any]


def _fixture_json(relative: str) -> Any:
    try:
        path = venue_fixture(f"{FIXTURES}/{relative}")
    except FileNotFoundError as exc:
        pytest.fail(str(exc))
    return msgspec.json.decode(path.read_bytes())


FixtureLoader = Callable[[str], Any]


@pytest.fixture
def fixture_json() -> FixtureLoader:
    """Load a Polymarket fixture file (relative to polymarket/nautilus_trader), decoded."""
    return _fixture_json


@dataclass
class Venue:
    """A running simulated Polymarket venue."""

    exchange: PolymarketExchange
    ledger: Ledger
    clock: Clock
    url: str

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + self.exchange.ws_path

    def assets(self, *slugs: str) -> list[str]:
        """Token ids (YES, NO, ...) of the given markets, or of every market."""
        listings = self.exchange.catalog.listings
        chosen = [item for item in listings if not slugs or item.ids.slug in slugs]
        return [token for item in chosen for token in item.ids.token_ids]

    async def get(self, path: str, **params: str) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as http, http.get(self.url + path, params=params) as r:
            return r.status, msgspec.json.decode(await r.read())

    async def fault(self, **body: Any) -> dict[str, object]:
        return await self.exchange.apply_fault(FaultRequest(**body))

    def lifecycle(self, product: str, action: Any, result: str | None = None) -> dict[str, object]:
        return self.exchange.lifecycle(LifecycleRequest(product, action, result))


VenueFactory = Callable[..., Awaitable[Venue]]


@pytest.fixture
async def start_venue() -> AsyncIterator[VenueFactory]:
    """Start venues with settings overrides; all are stopped after the test."""
    stops: list[Callable[[], Awaitable[None]]] = []

    async def start(*, clock: Clock | None = None, **overrides: Any) -> Venue:
        settings = SimulatorSettings.load(**{"venue": "polymarket", "port": 0, **overrides})
        clock = clock or LiveClock()
        ledger = Ledger(settings.ledger_max_entries)
        metrics = SimulatorMetrics(CollectorRegistry())
        exchange = PolymarketExchange(settings, clock=clock, ledger=ledger, metrics=metrics)
        app = web.Application()
        exchange.add_routes(app)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        tasks = [
            asyncio.create_task(exchange.run_generator()),
            asyncio.create_task(exchange.run_heartbeats()),
        ]

        async def stop() -> None:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await exchange.close_all()
            await runner.cleanup()

        stops.append(stop)
        return Venue(exchange, ledger, clock, f"http://127.0.0.1:{port}")

    yield start
    for stop in stops:
        await stop()


class Client:
    """A market-channel client that keeps every frame it received."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[str] = []

    async def send(self, request: Message | str) -> None:
        text = request if isinstance(request, str) else msgspec.json.encode(request).decode()
        await self.ws.send_str(text)

    async def subscribe(
        self,
        assets: list[str],
        *,
        custom: bool = False,
        initial_dump: bool | None = None,
        operation: str | None = None,
    ) -> None:
        request: Message = {"assets_ids": assets, "custom_feature_enabled": custom}
        if operation is None:
            request["type"] = "market"
        else:
            request["operation"] = operation
        if initial_dump is not None:
            request["initial_dump"] = initial_dump
        await self.send(request)

    async def receive_text(self, timeout_s: float = RECEIVE_TIMEOUT_S) -> str | None:
        """The next text frame, or None once the connection is closed."""
        message = await self.ws.receive(timeout=timeout_s)
        if message.type != aiohttp.WSMsgType.TEXT:
            return None
        self.frames.append(message.data)
        return str(message.data)

    async def receive(self, timeout_s: float = RECEIVE_TIMEOUT_S) -> list[Message]:
        """The messages of the next frame (one, or an array's)."""
        text = await self.receive_text(timeout_s)
        assert text is not None, "connection closed"
        decoded = msgspec.json.decode(text)
        return decoded if isinstance(decoded, list) else [decoded]

    async def messages_until(self, done: Callable[[Message], bool], limit: int) -> list[Message]:
        """Messages until one satisfies `done` (included); at most `limit` frames."""
        seen: list[Message] = []
        for _ in range(limit):
            for message in await self.receive():
                seen.append(message)
                if done(message):
                    return seen
        raise AssertionError(f"no matching message in {limit} frames")

    async def quiet(self, timeout_s: float = 0.3) -> list[str]:
        """Frames that arrive until none came for `timeout_s`."""
        texts: list[str] = []
        while True:
            try:
                text = await self.receive_text(timeout_s)
            except TimeoutError:
                return texts
            if text is None:
                return texts
            texts.append(text)


ClientFactory = Callable[[Venue], Awaitable[Client]]


@pytest.fixture
async def connect() -> AsyncIterator[ClientFactory]:
    """Open market-channel clients; all are closed after the test."""
    session = aiohttp.ClientSession()
    clients: list[Client] = []

    async def open_client(venue: Venue) -> Client:
        client = Client(await session.ws_connect(venue.ws_url, max_msg_size=0))
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        await client.ws.close()
    await session.close()


@dataclass
class TokenBook:
    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    asks: dict[Decimal, Decimal] = field(default_factory=dict)

    def best_bid(self) -> str:
        return str(max(self.bids)) if self.bids else "0"

    def best_ask(self) -> str:
        return str(min(self.asks)) if self.asks else "1"

    def levels(self) -> tuple[list[list[str]], list[list[str]]]:
        """(bids, asks) best first, as [price, size] texts."""
        bids = [[str(p), str(self.bids[p])] for p in sorted(self.bids, reverse=True)]
        asks = [[str(p), str(self.asks[p])] for p in sorted(self.asks)]
        return bids, asks


class Books:
    """Token books a client builds from ``book`` and ``price_change`` messages."""

    def __init__(self) -> None:
        self.books: dict[str, TokenBook] = {}
        self.mismatches: list[Message] = []
        self.hashes: dict[str, str] = {}

    def apply(self, message: Message) -> None:
        kind = message.get("event_type")
        if kind == "book":
            book = self.books[message["asset_id"]] = TokenBook()
            for level in message["bids"]:
                book.bids[Decimal(level["price"])] = Decimal(level["size"])
            for level in message["asks"]:
                book.asks[Decimal(level["price"])] = Decimal(level["size"])
            self.hashes[message["asset_id"]] = message["hash"]
        elif kind == "price_change":
            for change in message["price_changes"]:
                found = self.books.get(change["asset_id"])
                if found is None:
                    continue
                book = found
                side = book.bids if change["side"] == "BUY" else book.asks
                price, size = Decimal(change["price"]), Decimal(change["size"])
                if size:
                    side[price] = size
                else:
                    side.pop(price, None)
                self.hashes[change["asset_id"]] = change["hash"]
                top = (Decimal(change["best_bid"]), Decimal(change["best_ask"]))
                if top != (Decimal(book.best_bid()), Decimal(book.best_ask())):
                    self.mismatches.append(change)


@pytest.fixture
def new_books() -> type[Books]:
    """The `Books` class (test modules cannot import this conftest)."""
    return Books
