"""What REST says about a listed market: CLOB and Gamma shapes, built from a `Listing`.

Field names, order and JSON types follow the real answers
(``py_http_responses/markets.json``, ``rust_test_data/clob_market_*.json``,
``gamma_market*.json``, ``gamma_event.json``, ``clob_book_response.json``): the CLOB prints
sizes and prices in market rows as JSON numbers (``"minimum_tick_size": 0.01``) and in
``/book`` as strings; Gamma prints ``outcomes``, ``outcomePrices`` and ``clobTokenIds`` as
JSON-encoded strings. Numbers are written from exact decimal text (`msgspec.Raw`), never
floats.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import msgspec

from ssmd.simulator.polymarket.catalog import TAGS, Listing
from ssmd.simulator.polymarket.frames import PRICE_TEXT, TICKS_PER_UNIT
from ssmd.simulator.polymarket.markets import MIN_ORDER_SIZE, Leg
from ssmd.venues.polymarket.config import NO, YES

_ENCODER: Final = msgspec.json.Encoder()


def _number(text: str) -> msgspec.Raw:
    return msgspec.Raw(text.encode())


def iso_seconds(ts_ms: int) -> str:
    """``2026-03-12T09:25:00Z``."""
    return datetime.fromtimestamp(ts_ms // 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_micros(ts_ms: int) -> str:
    """``2026-03-11T09:29:01.328000Z``."""
    moment = datetime.fromtimestamp(ts_ms // 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{ts_ms % 1000 * 1000:06d}Z"


# -- CLOB ---------------------------------------------------------------------------------
class ClobToken(msgspec.Struct, frozen=True):
    token_id: str
    outcome: str
    price: msgspec.Raw
    winner: bool


class ClobRewards(msgspec.Struct, frozen=True):
    rates: None = None
    min_size: int = 0
    max_spread: int = 0


class ClobMarket(msgspec.Struct, frozen=True, kw_only=True):
    """A row of CLOB ``GET /markets`` and the body of ``GET /markets/{condition_id}``."""

    enable_order_book: bool
    active: bool
    closed: bool
    archived: bool
    accepting_orders: bool
    accepting_order_timestamp: str | None
    minimum_order_size: msgspec.Raw
    minimum_tick_size: msgspec.Raw
    condition_id: str
    question_id: str
    question: str
    description: str
    market_slug: str
    end_date_iso: str
    game_start_time: str | None
    seconds_delay: int
    fpmm: str
    maker_base_fee: int
    taker_base_fee: int
    notifications_enabled: bool
    neg_risk: bool
    neg_risk_market_id: str
    neg_risk_request_id: str
    icon: str
    image: str
    rewards: ClobRewards
    is_50_50_outcome: bool
    tokens: list[ClobToken]
    tags: list[str]


class ClobMarketsPage(msgspec.Struct, frozen=True):
    limit: int
    count: int
    next_cursor: str
    data: list[ClobMarket]


class BookLevel(msgspec.Struct, frozen=True):
    price: str
    size: str


class ClobBook(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /book?token_id=``: bids ascending, asks descending, as the venue prints them."""

    market: str
    asset_id: str
    timestamp: str
    hash: str
    bids: list[BookLevel]
    asks: list[BookLevel]
    min_order_size: str
    tick_size: str
    neg_risk: bool
    last_trade_price: str


def _token_prices(listing: Listing) -> tuple[str, str]:
    winner = listing.winner
    if winner is not None:
        return ("1", "0") if winner == "yes" else ("0", "1")
    market = listing.market
    return market.token_price("yes"), market.token_price("no")


def clob_market(listing: Listing) -> ClobMarket:
    ids, market = listing.ids, listing.market
    yes_price, no_price = _token_prices(listing)
    winner = listing.winner
    return ClobMarket(
        enable_order_book=listing.status != "settled",
        active=True,
        closed=listing.closed,
        archived=False,
        accepting_orders=listing.accepting_orders,
        accepting_order_timestamp=iso_seconds(listing.created_ms),
        minimum_order_size=_number(MIN_ORDER_SIZE),
        minimum_tick_size=_number(market.tick_size),
        condition_id=ids.condition_id,
        question_id=ids.question_id,
        question=listing.question,
        description=listing.description,
        market_slug=ids.slug,
        end_date_iso=iso_seconds(listing.end_ms),
        game_start_time=None,
        seconds_delay=0,
        fpmm="",
        maker_base_fee=0,
        taker_base_fee=0,
        notifications_enabled=True,
        neg_risk=False,
        neg_risk_market_id="",
        neg_risk_request_id="",
        icon="",
        image="",
        rewards=ClobRewards(),
        is_50_50_outcome=False,
        tokens=[
            ClobToken(ids.yes_token_id, YES, _number(yes_price), winner == "yes"),
            ClobToken(ids.no_token_id, NO, _number(no_price), winner == "no"),
        ],
        tags=list(TAGS),
    )


def clob_book(listing: Listing, leg: Leg, ts_ms: int) -> ClobBook:
    """A token's book now, with the same ``hash`` as the stream's last message."""
    market = listing.market
    book = market.token_book(leg)
    return ClobBook(
        market=listing.ids.condition_id,
        asset_id=book.asset_id,
        timestamp=str(ts_ms),
        hash=book.hash,
        bids=[BookLevel(price, size) for price, size in reversed(book.bids)],
        asks=[BookLevel(price, size) for price, size in reversed(book.asks)],
        min_order_size=MIN_ORDER_SIZE,
        tick_size=market.tick_size,
        neg_risk=False,
        last_trade_price=market.last_trade_price(leg),
    )


# -- Gamma --------------------------------------------------------------------------------
class GammaTag(msgspec.Struct, frozen=True):
    id: str
    label: str
    slug: str


class GammaEventRef(msgspec.Struct, frozen=True, kw_only=True):
    """The event a Gamma market belongs to (its ``events[]`` entry)."""

    id: str
    ticker: str
    slug: str
    title: str
    description: str
    startDate: str  # noqa: N815 - Gamma's field names
    endDate: str  # noqa: N815
    active: bool
    closed: bool
    archived: bool
    negRisk: bool  # noqa: N815
    enableOrderBook: bool  # noqa: N815


class GammaMarket(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A Gamma market (``GET /markets`` rows, ``GET /markets/{id}``, events' markets).

    Fields that real rows carry only in some states (``closedTime``,
    ``umaResolutionStatus``, ``events`` inside an event) are left out when None.
    """

    id: str
    question: str
    conditionId: str  # noqa: N815 - Gamma's field names
    slug: str
    resolutionSource: str  # noqa: N815
    endDate: str  # noqa: N815
    startDate: str  # noqa: N815
    description: str
    outcomes: str
    outcomePrices: str  # noqa: N815
    active: bool
    closed: bool
    marketMakerAddress: str  # noqa: N815
    createdAt: str  # noqa: N815
    closedTime: str | None = None  # noqa: N815
    new: bool
    featured: bool
    archived: bool
    restricted: bool
    questionID: str  # noqa: N815
    enableOrderBook: bool  # noqa: N815
    orderPriceMinTickSize: msgspec.Raw  # noqa: N815
    orderMinSize: msgspec.Raw  # noqa: N815
    umaResolutionStatus: str | None = None  # noqa: N815
    endDateIso: str  # noqa: N815
    startDateIso: str  # noqa: N815
    clobTokenIds: str  # noqa: N815
    acceptingOrders: bool  # noqa: N815
    acceptingOrdersTimestamp: str  # noqa: N815
    negRisk: bool  # noqa: N815
    spread: msgspec.Raw
    bestBid: msgspec.Raw  # noqa: N815
    bestAsk: msgspec.Raw  # noqa: N815
    lastTradePrice: msgspec.Raw  # noqa: N815
    umaResolutionStatuses: str  # noqa: N815
    feesEnabled: bool  # noqa: N815
    events: list[GammaEventRef] | None = None


class GammaEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A Gamma event (``GET /events``): each simulated market is its own event."""

    id: str
    ticker: str
    slug: str
    title: str
    description: str
    startDate: str  # noqa: N815 - Gamma's field names
    creationDate: str  # noqa: N815
    endDate: str  # noqa: N815
    active: bool
    closed: bool
    archived: bool
    new: bool
    featured: bool
    restricted: bool
    negRisk: bool  # noqa: N815
    enableOrderBook: bool  # noqa: N815
    markets: list[GammaMarket]
    tags: list[GammaTag]


def _json_strings(values: list[str]) -> str:
    return _ENCODER.encode(values).decode()


def _uma_statuses(listing: Listing) -> tuple[str | None, str]:
    if listing.status == "determined":
        return "proposed", '["proposed"]'
    if listing.status == "settled":
        return "resolved", '["proposed"]'
    return None, "[]"


def _event_ref(listing: Listing) -> GammaEventRef:
    ids = listing.ids
    return GammaEventRef(
        id=listing.event_id,
        ticker=ids.slug,
        slug=ids.slug,
        title=listing.question,
        description=listing.description,
        startDate=iso_micros(listing.created_ms),
        endDate=iso_seconds(listing.end_ms),
        active=True,
        closed=listing.closed,
        archived=False,
        negRisk=False,
        enableOrderBook=True,
    )


def gamma_market(listing: Listing, *, with_events: bool = True) -> GammaMarket:
    ids, market = listing.ids, listing.market
    yes_price, no_price = _token_prices(listing)
    uma_status, uma_statuses = _uma_statuses(listing)
    market.ensure_book()
    bid, ask = market.best_bid, market.best_ask
    spread = PRICE_TEXT[ask - bid] if bid and ask < TICKS_PER_UNIT else "0"
    return GammaMarket(
        id=listing.gamma_id,
        question=listing.question,
        conditionId=ids.condition_id,
        slug=ids.slug,
        resolutionSource="",
        endDate=iso_seconds(listing.end_ms),
        startDate=iso_micros(listing.created_ms),
        description=listing.description,
        outcomes=_json_strings([YES, NO]),
        outcomePrices=_json_strings([yes_price, no_price]),
        active=True,
        closed=listing.closed,
        marketMakerAddress="",
        createdAt=iso_micros(listing.created_ms),
        closedTime=None if listing.closed_ms is None else iso_seconds(listing.closed_ms),
        new=False,
        featured=False,
        archived=False,
        restricted=True,
        questionID=ids.question_id,
        enableOrderBook=True,
        orderPriceMinTickSize=_number(market.tick_size),
        orderMinSize=_number(MIN_ORDER_SIZE),
        umaResolutionStatus=uma_status,
        endDateIso=iso_seconds(listing.end_ms)[:10],
        startDateIso=iso_seconds(listing.created_ms)[:10],
        clobTokenIds=_json_strings(list(ids.token_ids)),
        acceptingOrders=listing.accepting_orders,
        acceptingOrdersTimestamp=iso_seconds(listing.created_ms),
        negRisk=False,
        spread=_number(spread),
        bestBid=_number(PRICE_TEXT[bid]),
        bestAsk=_number(PRICE_TEXT[ask]),
        lastTradePrice=_number(market.last_trade_price("yes")),
        umaResolutionStatuses=uma_statuses,
        feesEnabled=False,
        events=[_event_ref(listing)] if with_events else None,
    )


def gamma_event(listing: Listing) -> GammaEvent:
    ref = _event_ref(listing)
    return GammaEvent(
        id=ref.id,
        ticker=ref.ticker,
        slug=ref.slug,
        title=ref.title,
        description=ref.description,
        startDate=ref.startDate,
        creationDate=ref.startDate,
        endDate=ref.endDate,
        active=True,
        closed=listing.closed,
        archived=False,
        new=False,
        featured=False,
        restricted=True,
        negRisk=False,
        enableOrderBook=True,
        markets=[gamma_market(listing, with_events=False)],
        tags=[GammaTag(id="1", label=tag, slug=tag.lower()) for tag in TAGS],
    )
