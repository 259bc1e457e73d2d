"""Kalshi public REST market data, server side (under ``/trade-api/v2``, no auth).

* ``GET /markets`` (``limit`` 1..1000, default 100; ``cursor``; ``tickers``,
  ``event_ticker``, ``series_ticker``, ``status`` unopened|open|paused|closed|settled) ->
  ``{"markets": [...], "cursor": ""}``; ``GET /markets/{ticker}`` -> ``{"market": ...}``;
  ``GET /markets/{ticker}/orderbook`` (``depth``) -> ``{"orderbook_fp": {...}}``, bids
  ascending; ``GET /markets/trades`` (``ticker``, ``min_ts``, ``max_ts``, cursor) -> the
  newest trades first (the last `RECENT_TRADES_MAX` are kept).
* ``GET /events`` (``limit`` 1..200, ``cursor``, ``series_ticker``, ``status``,
  ``with_nested_markets``), ``GET /events/{event_ticker}``; ``GET /series`` (``category``),
  ``GET /series/{series_ticker}``.

Pages are cut by position in an append-only listing (the cursor is an opaque position), so
listing 50,000 markets costs O(n) in all. An unknown ticker is 404 and a bad parameter 400,
with Kalshi's ``ErrorResponse`` body.
"""

from __future__ import annotations

import base64
import binascii
import itertools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final, TypeVar

import msgspec
from aiohttp import web

from ssmd.simulator.kalshi import rest_wire
from ssmd.simulator.kalshi.auth import ErrorResponse
from ssmd.simulator.kalshi.catalog import EventInfo, series_info
from ssmd.venues.kalshi.config import REST_PATH

if TYPE_CHECKING:
    from ssmd.simulator.kalshi.exchange import KalshiExchange

_ENCODER: Final = msgspec.json.Encoder()
_MARKETS_LIMIT: Final = (100, 1000)  # (default, most)
_EVENTS_LIMIT: Final = (200, 200)
_TRADES_LIMIT: Final = (100, 1000)
MARKET_STATUS_FILTERS: Final = {
    "unopened": frozenset({"initialized"}),
    "open": frozenset({"active"}),
    "paused": frozenset({"inactive"}),
    "closed": frozenset({"closed", "determined"}),
    "settled": frozenset({"finalized"}),
}
EVENT_STATUS_FILTERS: Final = ("unopened", "open", "closed", "settled")
T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.Response]]


class BadRequestError(Exception):
    """A query parameter the endpoint cannot take (HTTP 400)."""


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(body=_ENCODER.encode(body), status=status, content_type="application/json")


def _error(status: int, code: str, message: str) -> web.Response:
    return _json(ErrorResponse(code, message), status)


def _limit(request: web.Request, bounds: tuple[int, int]) -> int:
    text = request.query.get("limit")
    if text is None:
        return bounds[0]
    if not text.isdigit() or not 1 <= int(text) <= bounds[1]:
        raise BadRequestError(f"limit must be an integer within 1..{bounds[1]}")
    return int(text)


def _int(request: web.Request, name: str) -> int | None:
    text = request.query.get(name)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise BadRequestError(f"{name} must be an integer") from None


def _cursor(request: web.Request, kind: str) -> int:
    """The position an opaque cursor names (0 without one)."""
    text = request.query.get("cursor", "")
    if not text:
        return 0
    try:
        decoded = base64.urlsafe_b64decode(text.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    prefix, _, number = decoded.partition(":")
    if prefix != kind or not number.isdigit():
        raise BadRequestError("invalid cursor")
    return int(number)


def _make_cursor(kind: str, position: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{position}".encode()).decode()


def _page(
    base: list[str], start: int, limit: int, keep: Callable[[str], T | None], kind: str
) -> tuple[list[T], str]:
    """Up to `limit` kept items of `base` from `start`; the cursor of the rest ("" if none)."""
    found: list[T] = []
    position = start
    while position < len(base) and len(found) < limit:
        item = keep(base[position])
        position += 1
        if item is not None:
            found.append(item)
    return found, _make_cursor(kind, position) if position < len(base) else ""


def _event_status(exchange: KalshiExchange, event: EventInfo) -> str:
    statuses = {exchange.markets[t].info.status for t in event.markets}
    if statuses <= {"finalized"}:
        return "settled"
    if statuses & {"active", "inactive"}:
        return "open"
    if statuses <= {"initialized"}:
        return "unopened"
    return "closed"


class RestApi:
    """The REST handlers of one exchange; see module doc."""

    def __init__(self, exchange: KalshiExchange) -> None:
        self._exchange = exchange

    async def markets(self, request: web.Request) -> web.Response:
        exchange = self._exchange
        status = request.query.get("status")
        statuses = MARKET_STATUS_FILTERS.get(status) if status is not None else None
        if status is not None and statuses is None:
            raise BadRequestError(f"status must be one of {', '.join(MARKET_STATUS_FILTERS)}")
        limit, start = _limit(request, _MARKETS_LIMIT), _cursor(request, "m")
        tickers = request.query.get("tickers")
        event, series = request.query.get("event_ticker"), request.query.get("series_ticker")
        if tickers:
            base = [t for t in dict.fromkeys(tickers.split(",")) if t in exchange.markets]
        elif event:
            base = exchange.events[event].markets if event in exchange.events else []
        elif series:
            base = exchange.series_markets.get(series, [])
        else:
            base = exchange.listing

        def keep(ticker: str) -> rest_wire.MarketWire | None:
            market = exchange.markets[ticker]
            if statuses is not None and market.info.status not in statuses:
                return None
            if (event and market.info.event_ticker != event) or (
                series and market.info.series_ticker != series
            ):
                return None
            return rest_wire.market_wire(market)

        found, cursor = _page(base, start, limit, keep, "m")
        return _json({"cursor": cursor, "markets": found})

    async def market(self, request: web.Request) -> web.Response:
        ticker = request.match_info["ticker"]
        market = self._exchange.markets.get(ticker)
        if market is None:
            return _error(404, "not_found", f"market {ticker} not found")
        return _json({"market": rest_wire.market_wire(market)})

    async def orderbook(self, request: web.Request) -> web.Response:
        ticker = request.match_info["ticker"]
        market = self._exchange.markets.get(ticker)
        if market is None:
            return _error(404, "not_found", f"market {ticker} not found")
        depth = _int(request, "depth") or 0
        if depth < 0:
            raise BadRequestError("depth must be >= 0")
        yes, no = market.wire_levels() if market.synthetic else ([], [])
        if depth:
            yes, no = yes[-depth:], no[-depth:]  # ascending: the best are last
        return _json({"orderbook_fp": rest_wire.OrderbookWire(no_dollars=no, yes_dollars=yes)})

    async def trades(self, request: web.Request) -> web.Response:
        recent = self._exchange.recent_trades
        limit = _limit(request, _TRADES_LIMIT)
        ticker = request.query.get("ticker")
        min_ts, max_ts = _int(request, "min_ts"), _int(request, "max_ts")
        newest = recent[-1].serial if recent else 0
        below = _cursor(request, "t") or newest + 1  # list serials below this one
        skip = max(0, newest + 1 - below)
        found: list[rest_wire.TradeWire] = []
        next_serial = 0
        for trade in itertools.islice(reversed(recent), skip, None):
            if len(found) >= limit:
                next_serial = trade.serial + 1
                break
            ts_s = trade.ts_ms // 1000
            if (ticker and trade.ticker != ticker) or (min_ts is not None and ts_s < min_ts):
                continue
            if max_ts is not None and ts_s > max_ts:
                continue
            found.append(rest_wire.trade_wire(trade))
        cursor = _make_cursor("t", next_serial) if next_serial else ""
        return _json({"cursor": cursor, "trades": found})

    async def events(self, request: web.Request) -> web.Response:
        exchange = self._exchange
        status = request.query.get("status")
        if status is not None and status not in EVENT_STATUS_FILTERS:
            raise BadRequestError(f"status must be one of {', '.join(EVENT_STATUS_FILTERS)}")
        limit, start = _limit(request, _EVENTS_LIMIT), _cursor(request, "e")
        series = request.query.get("series_ticker")
        nested = request.query.get("with_nested_markets", "false").lower() == "true"
        base = exchange.series.get(series, []) if series else exchange.event_listing

        def keep(ticker: str) -> rest_wire.EventWire | None:
            event = exchange.events[ticker]
            if status is not None and _event_status(exchange, event) != status:
                return None
            return self._event(event, nested=nested)

        found, cursor = _page(base, start, limit, keep, "e")
        return _json({"cursor": cursor, "events": found})

    def _event(self, event: EventInfo, *, nested: bool) -> rest_wire.EventWire:
        markets = self._exchange.markets
        nested_markets = (
            [rest_wire.market_wire(markets[t]) for t in event.markets] if nested else None
        )
        return rest_wire.event_wire(event, series_info(event.series_ticker), nested_markets)

    async def event(self, request: web.Request) -> web.Response:
        ticker = request.match_info["event_ticker"]
        event = self._exchange.events.get(ticker)
        if event is None:
            return _error(404, "not_found", f"event {ticker} not found")
        markets = [rest_wire.market_wire(self._exchange.markets[t]) for t in event.markets]
        return _json({"event": self._event(event, nested=False), "markets": markets})

    async def series_list(self, request: web.Request) -> web.Response:
        category = request.query.get("category")
        listed = [series_info(ticker) for ticker in self._exchange.series]
        chosen = [s for s in listed if category is None or s.category == category]
        updated_ns = self._exchange.sim_ns
        return _json({"series": [rest_wire.series_wire(s, updated_ns) for s in chosen]})

    async def series_one(self, request: web.Request) -> web.Response:
        ticker = request.match_info["series_ticker"]
        if ticker not in self._exchange.series:
            return _error(404, "not_found", f"series {ticker} not found")
        return _json({"series": rest_wire.series_wire(series_info(ticker), self._exchange.sim_ns)})


def add_routes(app: web.Application, exchange: KalshiExchange) -> None:
    """The REST endpoints under ``/trade-api/v2``."""
    api = RestApi(exchange)

    def wrap(handler: Handler) -> Handler:
        async def answer(request: web.Request) -> web.Response:
            try:
                return await handler(request)
            except BadRequestError as exc:
                return _error(400, "bad_request", str(exc))

        return answer

    router = app.router
    router.add_get(f"{REST_PATH}/markets", wrap(api.markets))
    router.add_get(f"{REST_PATH}/markets/trades", wrap(api.trades))
    router.add_get(f"{REST_PATH}/markets/{{ticker}}", wrap(api.market))
    router.add_get(f"{REST_PATH}/markets/{{ticker}}/orderbook", wrap(api.orderbook))
    router.add_get(f"{REST_PATH}/events", wrap(api.events))
    router.add_get(f"{REST_PATH}/events/{{event_ticker}}", wrap(api.event))
    router.add_get(f"{REST_PATH}/series", wrap(api.series_list))
    router.add_get(f"{REST_PATH}/series/{{series_ticker}}", wrap(api.series_one))
