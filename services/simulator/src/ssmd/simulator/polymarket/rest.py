"""Polymarket public REST, server side: CLOB market data at the root, Gamma under ``/gamma``.

CLOB (``https://clob.polymarket.com``):

* ``GET /markets?next_cursor=`` -> ``{"limit","count","next_cursor","data"}``, pages of
  `CLOB_PAGE_SIZE` markets in listing order; the cursor is the base64 of the next offset
  (``MTAwMA==`` = 1000), ``LTE=`` (base64 of -1) on the last page.
* ``GET /markets/{condition_id}`` -> one market; 404 ``{"error": ...}`` if unknown.
* ``GET /book?token_id=`` -> the token's book (400 without a token id, 404 if unknown or
  settled).

Gamma (``https://gamma-api.polymarket.com``, served under `GAMMA_PATH_PREFIX`):

* ``GET /gamma/markets`` -> JSON array; ``limit`` (default `GAMMA_DEFAULT_LIMIT`, at most
  `GAMMA_MAX_LIMIT`), ``offset``, ``closed``, ``active``, and lookups by ``id``, ``slug``,
  ``condition_ids`` (repeated or comma-separated);
* ``GET /gamma/markets/{id}``; ``GET /gamma/events`` (same parameters; each simulated
  market is an event of its own) and ``GET /gamma/events/{id}``.

Pages are slices of the catalogue's lists, so a page costs O(page) however many markets
are listed. In replay mode nothing is listed (the capture has no metadata). The CLOB's
page size comes from live answers seen in public clients (``"limit": 1000``; the
nautilus fixture shows a 100-row page); Gamma's limits are unpublished.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Final

import msgspec
from aiohttp import web

from ssmd.simulator.polymarket import metadata

if TYPE_CHECKING:
    from collections.abc import Callable

    from ssmd.simulator.polymarket.catalog import Listing
    from ssmd.simulator.polymarket.exchange import PolymarketExchange

GAMMA_PATH_PREFIX: Final = "/gamma"
"""Where ``https://gamma-api.polymarket.com`` is served: ``http://host:port/gamma/...``."""
CLOB_PAGE_SIZE: Final = 1000
END_CURSOR: Final = "LTE="
GAMMA_DEFAULT_LIMIT: Final = 100
GAMMA_MAX_LIMIT: Final = 1000
_ENCODER: Final = msgspec.json.Encoder()
_NS_PER_MS: Final = 1_000_000


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(body=_ENCODER.encode(body), status=status, content_type="application/json")


def _error(status: int, message: str) -> web.Response:
    return _json({"error": message}, status)


def cursor_of(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode()


def offset_of(cursor: str) -> int:
    """The offset a cursor stands for (-1 for the end); ValueError if it is not a cursor."""
    if not cursor:
        return 0
    try:
        return int(base64.b64decode(cursor.encode(), validate=True).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError(f"invalid next_cursor {cursor!r}") from None


def _int_param(request: web.Request, name: str, default: int) -> int:
    text = request.query.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name} must be an integer") from None
    if value < 0:
        raise ValueError(f"{name} must be >= 0")
    return value


def _bool_param(request: web.Request, name: str) -> bool | None:
    text = request.query.get(name)
    if text is None or text == "":
        return None
    lowered = text.lower()
    if lowered not in ("true", "false"):
        raise ValueError(f"{name} must be true or false")
    return lowered == "true"


def _values(request: web.Request, name: str) -> list[str]:
    """A repeated or comma-separated parameter's values."""
    return [part for text in request.query.getall(name, []) for part in text.split(",") if part]


class PolymarketRest:
    """The REST handlers of one exchange; see module doc."""

    def __init__(self, exchange: PolymarketExchange) -> None:
        self._exchange = exchange

    # -- CLOB -------------------------------------------------------------------------------
    async def markets(self, request: web.Request) -> web.Response:
        try:
            offset = offset_of(request.query.get("next_cursor", ""))
        except ValueError as exc:
            return _error(400, str(exc))
        listings = self._exchange.catalog.listings
        page = listings[offset : offset + CLOB_PAGE_SIZE] if offset >= 0 else []
        following = offset + len(page)
        next_cursor = cursor_of(following) if offset >= 0 and following < len(listings) else None
        body = metadata.ClobMarketsPage(
            limit=CLOB_PAGE_SIZE,
            count=len(page),
            next_cursor=next_cursor or END_CURSOR,
            data=[metadata.clob_market(listing) for listing in page],
        )
        return _json(body)

    async def market(self, request: web.Request) -> web.Response:
        condition_id = request.match_info["condition_id"]
        listing = self._exchange.catalog.by_condition(condition_id)
        if listing is None:
            return _error(404, f"market not found: {condition_id}")
        return _json(metadata.clob_market(listing))

    async def book(self, request: web.Request) -> web.Response:
        token_id = request.query.get("token_id", "")
        if not token_id:
            return _error(400, "Invalid token id")
        found = self._exchange.catalog.by_token(token_id)
        if found is None or found[0].status == "settled":
            return _error(404, "No orderbook exists for the requested token id")
        listing, leg = found
        ts_ms = self._exchange.sim_ns // _NS_PER_MS
        return _json(metadata.clob_book(listing, leg, ts_ms))

    # -- Gamma ------------------------------------------------------------------------------
    def _select(self, request: web.Request) -> list[Listing]:
        """The listings a Gamma query names, filtered and paged (ValueError if malformed)."""
        catalog = self._exchange.catalog
        limit = min(_int_param(request, "limit", GAMMA_DEFAULT_LIMIT), GAMMA_MAX_LIMIT)
        offset = _int_param(request, "offset", 0)
        closed = _bool_param(request, "closed")
        if _bool_param(request, "active") is False:
            return []  # every simulated market is active (closed ones too, as on Gamma)
        lookups: list[tuple[str, Callable[[str], Listing | None]]] = [
            ("id", catalog.by_gamma_id),
            ("slug", catalog.by_slug),
            ("condition_ids", catalog.by_condition),
        ]
        named: dict[int, Listing] = {}
        asked = False
        for name, lookup in lookups:
            for value in _values(request, name):
                asked = True
                found = lookup(value)
                if found is not None:
                    named[found.index] = found
        if asked:
            chosen = [named[index] for index in sorted(named)]
            if closed is not None:
                chosen = [listing for listing in chosen if listing.closed == closed]
        else:
            chosen = catalog.view(closed)
        return chosen[offset : offset + limit]

    async def gamma_markets(self, request: web.Request) -> web.Response:
        try:
            listings = self._select(request)
        except ValueError as exc:
            return _error(400, str(exc))
        return _json([metadata.gamma_market(listing) for listing in listings])

    async def gamma_market(self, request: web.Request) -> web.Response:
        market_id = request.match_info["market_id"]
        listing = self._exchange.catalog.by_gamma_id(market_id)
        if listing is None:
            return _error(404, f"market not found: {market_id}")
        return _json(metadata.gamma_market(listing))

    async def gamma_events(self, request: web.Request) -> web.Response:
        try:
            listings = self._select(request)
        except ValueError as exc:
            return _error(400, str(exc))
        return _json([metadata.gamma_event(listing) for listing in listings])

    async def gamma_event(self, request: web.Request) -> web.Response:
        event_id = request.match_info["event_id"]
        listing = self._exchange.catalog.by_event_id(event_id)
        if listing is None:
            return _error(404, f"event not found: {event_id}")
        return _json(metadata.gamma_event(listing))


def add_routes(app: web.Application, exchange: PolymarketExchange) -> None:
    rest = PolymarketRest(exchange)
    app.router.add_get("/markets", rest.markets)
    app.router.add_get("/markets/{condition_id}", rest.market)
    app.router.add_get("/book", rest.book)
    app.router.add_get(f"{GAMMA_PATH_PREFIX}/markets", rest.gamma_markets)
    app.router.add_get(f"{GAMMA_PATH_PREFIX}/markets/{{market_id}}", rest.gamma_market)
    app.router.add_get(f"{GAMMA_PATH_PREFIX}/events", rest.gamma_events)
    app.router.add_get(f"{GAMMA_PATH_PREFIX}/events/{{event_id}}", rest.gamma_event)
