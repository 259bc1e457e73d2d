"""Kraken Futures public REST, server side: instruments, tickers, order book.

Every answer is the venue's envelope: ``"result":"success"`` and ``serverTime`` (ISO 8601,
milliseconds, ``Z``) with the data, or ``"result":"error"`` with an ``error`` code (HTTP 200
either way, as the venue answers). In replay mode only instruments are served (built from
the capture's products); tickers and the order book answer ``"error":"unavailable"``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import msgspec
from aiohttp import web

from ssmd.core.clock import Clock
from ssmd.simulator.kraken_futures.protocol import EXCHANGE_KEY
from ssmd.venues.kraken_futures.config import REST_PATH
from ssmd.venues.kraken_futures.wire import (
    InstrumentsResponse,
    OrderBookResponse,
    OrderBookWire,
    TickersResponse,
)

CLOCK_KEY: Final = web.AppKey("clock", Clock)
_ENCODER: Final = msgspec.json.Encoder()


def _server_time(clock: Clock) -> str:
    now_ns = clock.now_ns()
    moment = datetime.fromtimestamp(now_ns // 1_000_000_000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{now_ns // 1_000_000 % 1000:03d}Z"


def _json(body: msgspec.Struct) -> web.Response:
    return web.Response(body=_ENCODER.encode(body), content_type="application/json")


def _error(clock: Clock, code: str) -> web.Response:
    body = {"result": "error", "serverTime": _server_time(clock), "error": code}
    return web.Response(body=_ENCODER.encode(body), content_type="application/json")


async def instruments(request: web.Request) -> web.Response:
    exchange, clock = request.app[EXCHANGE_KEY], request.app[CLOCK_KEY]
    return _json(
        InstrumentsResponse(
            result="success",
            instruments=[spec.instrument() for spec in exchange.specs.values()],
            serverTime=_server_time(clock),
        )
    )


async def tickers(request: web.Request) -> web.Response:
    exchange, clock = request.app[EXCHANGE_KEY], request.app[CLOCK_KEY]
    if exchange.replay is not None:
        return _error(clock, "unavailable")
    return _json(
        TickersResponse(
            result="success",
            serverTime=_server_time(clock),
            tickers=[state.rest_ticker() for state in exchange.products.values()],
        )
    )


async def orderbook(request: web.Request) -> web.Response:
    exchange, clock = request.app[EXCHANGE_KEY], request.app[CLOCK_KEY]
    if exchange.replay is not None:
        return _error(clock, "unavailable")
    symbol = request.query.get("symbol", "").upper()
    state = exchange.products.get(symbol)
    if state is None:
        return _error(clock, "invalidArgument: symbol")
    bids, asks = state.book_levels()
    raw = msgspec.Raw
    book = OrderBookWire(
        bids=[(raw(p.encode()), raw(q.encode())) for p, q in bids],
        asks=[(raw(p.encode()), raw(q.encode())) for p, q in asks],
    )
    return _json(
        OrderBookResponse(result="success", serverTime=_server_time(clock), orderBook=book)
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{REST_PATH}/instruments", instruments)
    app.router.add_get(f"{REST_PATH}/tickers", tickers)
    app.router.add_get(f"{REST_PATH}/orderbook", orderbook)
