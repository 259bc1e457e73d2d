"""Kalshi REST market data: response bodies into frozen structs and canonical events.

Bodies are the raw bytes of Trade API v2 answers (K-OPENAPI, shared/VENUES.md 1.10):
``GET /series``, ``/events``, ``/markets``, ``/markets/{ticker}``, ``/markets/{ticker}/orderbook``,
``/markets/trades`` and candlesticks. Reference data (Series, EventData, Market) keeps the
wire's field names and values (dollar and ``_fp`` strings as sent; JSON numbers such as
strikes as exact Decimal); market data becomes canonical events: the order book a YES-leg
BookSnapshot (as on the WebSocket, see `book`), trades canonical Trades. Every field a
revision or a minimal body may lack is optional. A body of the wrong shape raises
`MalformedFrame`; `venue_error` maps an HTTP error answer to `VenueRejectedError` (4xx) or
`VenueBusyError` (429, 5xx). No HTTP client here: `paginate` takes the caller's fetcher.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Final, Generic, TypeVar

import msgspec

from ssmd.contracts.events import BookSnapshot, Trade
from ssmd.contracts.symbols import market_id
from ssmd.core.errors import SsmdError
from ssmd.venues.errors import MalformedFrame, VenueBusyError, VenueRejectedError
from ssmd.venues.kalshi.book import (
    WireValueError,
    cent_levels,
    cents_text,
    count_text,
    dollar_levels,
    fp_levels,
    level_map,
    price_text,
    size_text,
    yes_leg_book,
)
from ssmd.venues.kalshi.config import VENUE
from ssmd.venues.kalshi.wire import (
    CentLevel,
    DollarLevel,
    LegacyDollarLevel,
    MarketSide,
    PriceRange,
    rfc3339_ns,
)

T = TypeVar("T")
S = TypeVar("S", bound=msgspec.Struct)
_HTTP_TOO_MANY_REQUESTS: Final = 429
_HTTP_SERVER_ERROR: Final = 500


# -- reference data (wire names) ---------------------------------------------------------------
class _Wire(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Base of REST structs: absent fields are not encoded back."""


class SettlementSource(_Wire, frozen=True, kw_only=True):
    name: str | None = None
    url: str | None = None


class Series(_Wire, frozen=True, kw_only=True):
    """A template of events (``KXBTCD``); ``fee_type`` and ``fee_multiplier`` set fees."""

    ticker: str
    frequency: str | None = None
    title: str | None = None
    category: str | None = None
    tags: list[str] | None = None
    settlement_sources: list[SettlementSource] | None = None
    contract_url: str | None = None
    contract_terms_url: str | None = None
    product_metadata: dict[str, object] | None = None
    fee_type: str | None = None
    fee_multiplier: Decimal | None = None
    additional_prohibitions: list[str] | None = None
    volume_fp: str | None = None
    last_updated_ts: str | None = None


class Market(_Wire, frozen=True, kw_only=True):
    """One binary (or scalar) contract; prices are dollar strings, times RFC 3339 text."""

    ticker: str
    event_ticker: str
    market_type: str | None = None
    title: str | None = None
    subtitle: str | None = None
    yes_sub_title: str | None = None
    no_sub_title: str | None = None
    created_time: str | None = None
    updated_time: str | None = None
    open_time: str | None = None
    close_time: str | None = None
    expected_expiration_time: str | None = None
    expiration_time: str | None = None
    latest_expiration_time: str | None = None
    settlement_timer_seconds: int | str | None = None
    """An integer in the spec, a numeric string in real answers: read `settlement_timer_s`."""
    status: str | None = None
    response_price_units: str | None = None
    yes_bid_dollars: str | None = None
    yes_bid_size_fp: str | None = None
    yes_ask_dollars: str | None = None
    yes_ask_size_fp: str | None = None
    no_bid_dollars: str | None = None
    no_ask_dollars: str | None = None
    last_price_dollars: str | None = None
    volume_fp: str | None = None
    volume_24h_fp: str | None = None
    result: str | None = None
    can_close_early: bool | None = None
    fractional_trading_enabled: bool | None = None
    open_interest_fp: str | None = None
    notional_value_dollars: str | None = None
    previous_yes_bid_dollars: str | None = None
    previous_yes_ask_dollars: str | None = None
    previous_price_dollars: str | None = None
    liquidity_dollars: str | None = None
    settlement_value_dollars: str | None = None
    settlement_ts: str | None = None
    expiration_value: str | None = None
    occurrence_datetime: str | None = None
    fee_waiver_expiration_time: str | None = None
    early_close_condition: str | None = None
    tick_size: int | None = None
    strike_type: str | None = None
    floor_strike: Decimal | None = None
    cap_strike: Decimal | None = None
    functional_strike: str | None = None
    custom_strike: dict[str, object] | None = None
    rules_primary: str | None = None
    rules_secondary: str | None = None
    mve_collection_ticker: str | None = None
    mve_selected_legs: list[dict[str, object]] | None = None
    primary_participant_key: str | None = None
    price_level_structure: str | None = None
    price_ranges: list[PriceRange] | None = None
    is_provisional: bool | None = None

    @property
    def market(self) -> str:
        """The canonical market id."""
        return market_id(VENUE, self.ticker)

    @property
    def settlement_timer_s(self) -> int | None:
        """``settlement_timer_seconds`` as an int (checked when the body was parsed)."""
        value = self.settlement_timer_seconds
        return None if value is None else int(value)


class EventData(_Wire, frozen=True, kw_only=True):
    """One instance of a series: a group of markets (``markets`` only when nested)."""

    event_ticker: str
    series_ticker: str
    title: str | None = None
    sub_title: str | None = None
    collateral_return_type: str | None = None
    mutually_exclusive: bool | None = None
    category: str | None = None
    strike_date: str | None = None
    strike_period: str | None = None
    markets: list[Market] | None = None
    available_on_brokers: bool | None = None
    product_metadata: dict[str, object] | None = None
    last_updated_ts: str | None = None


class Ohlc(_Wire, frozen=True, kw_only=True):
    """Open/high/low/close (and mean/previous for trade prices) in dollars; null: no trade.

    The live API names them ``open_dollars``...; the historical API ``open``...
    """

    open: str | None = None
    high: str | None = None
    low: str | None = None
    close: str | None = None
    mean: str | None = None
    previous: str | None = None
    open_dollars: str | None = None
    high_dollars: str | None = None
    low_dollars: str | None = None
    close_dollars: str | None = None
    mean_dollars: str | None = None
    previous_dollars: str | None = None


class Candlestick(_Wire, frozen=True, kw_only=True):
    """One period of a market's candlesticks; ``end_period_ts`` in Unix seconds."""

    end_period_ts: int
    yes_bid: Ohlc | None = None
    yes_ask: Ohlc | None = None
    price: Ohlc | None = None
    volume: str | None = None
    open_interest: str | None = None
    volume_fp: str | None = None
    open_interest_fp: str | None = None


class Page(msgspec.Struct, Generic[T], frozen=True, kw_only=True):
    """One page of a cursor-paginated list; an empty `cursor` means the last page."""

    items: list[T]
    cursor: str = ""


# -- response envelopes ------------------------------------------------------------------------
class _SeriesResponse(msgspec.Struct, frozen=True):
    series: list[Series] | Series


class _EventsResponse(msgspec.Struct, frozen=True):
    events: list[EventData]
    cursor: str = ""


class _EventResponse(msgspec.Struct, frozen=True):
    event: EventData
    markets: list[Market] = []


class _MarketsResponse(msgspec.Struct, frozen=True):
    markets: list[Market]
    cursor: str = ""


class _MarketResponse(msgspec.Struct, frozen=True):
    market: Market


class _BookFp(msgspec.Struct, frozen=True):
    yes_dollars: list[DollarLevel] | None = None
    no_dollars: list[DollarLevel] | None = None


class _BookLegacy(msgspec.Struct, frozen=True):
    yes: list[CentLevel] | None = None
    no: list[CentLevel] | None = None
    yes_dollars: list[LegacyDollarLevel] | None = None
    no_dollars: list[LegacyDollarLevel] | None = None


class _OrderbookResponse(msgspec.Struct, frozen=True):
    orderbook_fp: _BookFp | None = None
    orderbook: _BookLegacy | None = None


class _TradeWire(msgspec.Struct, frozen=True, kw_only=True):
    trade_id: str
    ticker: str
    yes_price_dollars: str | None = None
    count_fp: str | None = None
    taker_side: MarketSide | None = None
    taker_outcome_side: MarketSide | None = None
    created_time: str | None = None
    yes_price: int | None = None
    count: int | None = None


class _TradesResponse(msgspec.Struct, frozen=True):
    trades: list[_TradeWire]
    cursor: str = ""


class _CandlesticksResponse(msgspec.Struct, frozen=True):
    candlesticks: list[Candlestick]
    ticker: str | None = None


class _ErrorWire(msgspec.Struct, frozen=True):
    code: str | int | None = None
    message: str | None = None
    details: str | None = None
    service: str | None = None
    error: _ErrorWire | None = None  # some answers nest it: {"error": {...}}


# -- parsing -----------------------------------------------------------------------------------
def decode_body(body: bytes | str, kind: type[S]) -> S:
    """Decode a REST body into `kind`; `MalformedFrame` naming the bad field otherwise."""
    raw = body.encode() if isinstance(body, str) else bytes(body)
    try:
        return msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError as exc:  # a subclass of DecodeError: first
        raise MalformedFrame(raw, f"not a Kalshi {kind.__name__.lstrip('_')}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise MalformedFrame(raw, f"not JSON: {exc}") from None


def _checked(markets: list[Market], body: bytes | str) -> list[Market]:
    for market in markets:
        timer = market.settlement_timer_seconds
        if isinstance(timer, str) and not timer.isdigit():
            raw = body.encode() if isinstance(body, str) else bytes(body)
            raise MalformedFrame(raw, f"settlement_timer_seconds of {market.ticker}: {timer!r}")
    return markets


def parse_series(body: bytes | str) -> list[Series]:
    """``GET /series`` (a list) or ``GET /series/{ticker}`` (one) as a list."""
    series = decode_body(body, _SeriesResponse).series
    return series if isinstance(series, list) else [series]


def parse_events(body: bytes | str) -> Page[EventData]:
    """A ``GET /events`` page (nested markets kept when asked for)."""
    response = decode_body(body, _EventsResponse)
    for event in response.events:
        _checked(event.markets or [], body)
    return Page(items=response.events, cursor=response.cursor)


def parse_event(body: bytes | str) -> tuple[EventData, list[Market]]:
    """``GET /events/{event_ticker}``: the event and its markets."""
    response = decode_body(body, _EventResponse)
    return response.event, _checked(response.markets, body)


def parse_markets(body: bytes | str) -> Page[Market]:
    """A ``GET /markets`` page."""
    response = decode_body(body, _MarketsResponse)
    return Page(items=_checked(response.markets, body), cursor=response.cursor)


def parse_market(body: bytes | str) -> Market:
    """``GET /markets/{ticker}``."""
    return _checked([decode_body(body, _MarketResponse).market], body)[0]


def parse_candlesticks(body: bytes | str) -> list[Candlestick]:
    """``GET .../candlesticks`` (live or historical shape), periods as sent."""
    return decode_body(body, _CandlesticksResponse).candlesticks


def parse_orderbook(body: bytes | str, ticker: str, ts_recv_ns: int) -> BookSnapshot:
    """``GET /markets/{ticker}/orderbook`` as a YES-leg BookSnapshot (no venue time or seq).

    ``orderbook_fp`` (``yes_dollars``/``no_dollars`` ``[[price, count_fp]]``) or the older
    ``orderbook`` (``yes``/``no`` in integer cents, or ``*_dollars`` with integer counts).
    """
    response = decode_body(body, _OrderbookResponse)
    try:
        bids, asks = yes_leg_book(*_sides(response))
    except WireValueError as exc:
        raise MalformedFrame(_raw(body), str(exc)) from None
    return BookSnapshot(
        venue=VENUE,
        market=market_id(VENUE, ticker),
        ts_event_ns=ts_recv_ns,
        ts_recv_ns=ts_recv_ns,
        bids=bids,
        asks=asks,
    )


def _sides(response: _OrderbookResponse) -> tuple[dict[str, str], dict[str, str]]:
    if response.orderbook_fp is not None:
        fp = response.orderbook_fp
        return (
            level_map(fp_levels(fp.yes_dollars or [], "orderbook_fp.yes_dollars")),
            level_map(fp_levels(fp.no_dollars or [], "orderbook_fp.no_dollars")),
        )
    book = response.orderbook
    if book is None:
        raise WireValueError("orderbook_fp", "missing (and no legacy 'orderbook')")
    if book.yes_dollars is not None or book.no_dollars is not None:
        return (
            level_map(dollar_levels(book.yes_dollars or [], "orderbook.yes_dollars")),
            level_map(dollar_levels(book.no_dollars or [], "orderbook.no_dollars")),
        )
    return (
        level_map(cent_levels(book.yes or [], "orderbook.yes")),
        level_map(cent_levels(book.no or [], "orderbook.no")),
    )


def parse_trades(body: bytes | str, ts_recv_ns: int) -> Page[Trade]:
    """A ``GET /markets/trades`` page as canonical Trades (side: "buy" = taker bought YES)."""
    response = decode_body(body, _TradesResponse)
    try:
        trades = [_trade(wire, ts_recv_ns) for wire in response.trades]
    except ValueError as exc:  # WireValueError or a bad created_time
        raise MalformedFrame(_raw(body), f"trades: {exc}") from None
    return Page(items=trades, cursor=response.cursor)


def _trade(wire: _TradeWire, ts_recv_ns: int) -> Trade:
    if wire.yes_price_dollars is not None:
        price = price_text(wire.yes_price_dollars, "yes_price_dollars")
    elif wire.yes_price is not None:
        price = cents_text(wire.yes_price, "yes_price")
    else:
        raise WireValueError("yes_price_dollars", f"missing in trade {wire.trade_id}")
    if wire.count_fp is not None:
        size = size_text(wire.count_fp, "count_fp")
    elif wire.count is not None:
        size = count_text(wire.count, "count")
    else:
        raise WireValueError("count_fp", f"missing in trade {wire.trade_id}")
    outcome = wire.taker_outcome_side or wire.taker_side
    return Trade(
        venue=VENUE,
        market=market_id(VENUE, wire.ticker),
        ts_event_ns=ts_recv_ns if wire.created_time is None else rfc3339_ns(wire.created_time),
        ts_recv_ns=ts_recv_ns,
        price=price,
        size=size,
        side=None if outcome is None else ("buy" if outcome == "yes" else "sell"),
        trade_id=wire.trade_id,
    )


async def paginate(
    fetch_page: Callable[[str], Awaitable[bytes]],
    parse_page: Callable[[bytes], Page[T]],
) -> AsyncIterator[T]:
    """Every item of a cursor-paginated list: fetch with ``""`` first, then each cursor.

    Stops at an empty cursor; a cursor that comes back twice raises `MalformedFrame`
    (following it would never end).
    """
    cursor = ""
    seen: set[str] = set()
    while True:
        body = await fetch_page(cursor)
        page = parse_page(body)
        for item in page.items:
            yield item
        cursor = page.cursor
        if not cursor:
            return
        if cursor in seen:
            raise MalformedFrame(body, f"cursor {cursor[:64]!r} repeated: pagination would loop")
        seen.add(cursor)


def venue_error(status: int, body: bytes | str) -> SsmdError:
    """The error for an HTTP error answer: 429 and 5xx retry later, other codes do not."""
    raw = _raw(body)
    try:
        wire = msgspec.json.decode(raw, type=_ErrorWire)
    except msgspec.DecodeError:  # not the documented shape: keep the text
        wire = _ErrorWire(message=raw[:200].decode("utf-8", "replace"))
    if wire.error is not None:
        wire = wire.error
    code = f"http_{status}" if wire.code is None else str(wire.code)
    message = wire.message or ""
    if status == _HTTP_TOO_MANY_REQUESTS or status >= _HTTP_SERVER_ERROR:
        return VenueBusyError(code, message)
    return VenueRejectedError(code, message)


def _raw(body: bytes | str) -> bytes:
    return body.encode() if isinstance(body, str) else bytes(body)
