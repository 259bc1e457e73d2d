"""Polymarket wire messages: market-channel WebSocket, client requests, CLOB and Gamma REST.

Frozen structs whose field names are the wire's (``asset_id``, ``price_changes``,
``clobTokenIds``), so a struct reads like the venue's documentation and the simulator can
encode the same struct back to the same shape (absent optional fields are not encoded).

Market-channel messages are tagged by ``event_type``. Numbers are JSON STRINGS there
(``"0.51"``, timestamps in ms as ``"1703875200000"``); they stay `str` here and are checked
and made canonical in `parse`. REST bodies mix strings and JSON numbers
(``"orderPriceMinTickSize": 0.01``); those fields are `msgspec.Raw` (the number's raw text,
or a quoted string) and are converted exactly in `rest`, never through a float. Gamma sends
``outcomes``, ``outcomePrices`` and ``clobTokenIds`` as JSON-ENCODED strings inside the JSON
(some older answers as plain arrays), hence ``str | list[str]``.

Unknown fields are ignored (the venue adds fields over time); missing required fields and
wrong types fail decoding. The last section checks number texts and makes them canonical
(shared by `parse` and `rest`): plain notation, no leading zeros before the point
(``".48"`` -> ``"0.48"``), no trailing fractional zeros (``"0.50"`` -> ``"0.5"``), exactly
as `ssmd.venues.numbers` prints Decimals, through bounded caches.
"""

from __future__ import annotations

import re
from typing import Final, Literal

import msgspec

from ssmd.contracts.events import PriceLevel
from ssmd.venues.numbers import number_text, scaled_int_text

WireSide = Literal["BUY", "SELL"]
Number = msgspec.Raw
"""Raw text of a JSON number or string holding a number (REST bodies only)."""
NULL: Final = msgspec.Raw(b"null")
"""Default of optional REST numbers: absent and JSON ``null`` both read as raw ``null``."""


# -- market channel (tag: event_type) ---------------------------------------------------
class _Event(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, tag_field="event_type"):
    """A market-channel message; ``event_type`` names it."""


class Level(msgspec.Struct, frozen=True):
    """One price level of a book: decimal strings (size of all orders at the price)."""

    price: str
    size: str


class BookMsg(_Event, frozen=True, kw_only=True, tag="book"):
    """Full book of ONE token, on subscribe and after trades.

    Real traffic prints bids ascending and asks descending (worst first); the parser sorts.
    """

    market: str
    asset_id: str
    timestamp: str
    hash: str | None = None
    bids: list[Level]
    asks: list[Level]
    tick_size: str | None = None
    last_trade_price: str | None = None


class PriceChange(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One entry of a new-format ``price_change``: the level's NEW size ("0" removes it).

    ``best_bid``/``best_ask`` are the token's top of book after the change; an empty side
    reads ``"0"`` (no bid) or ``"1"`` (no ask) (PM-DOCS market-channel example).
    """

    asset_id: str
    price: str
    size: str
    side: WireSide
    hash: str | None = None
    best_bid: str | None = None
    best_ask: str | None = None


class LegacyChange(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of the old (pre-2025) ``changes[]`` list, all for the top-level asset."""

    price: str
    side: WireSide
    size: str


class PriceChangeMsg(_Event, frozen=True, kw_only=True, tag="price_change"):
    """Levels changed (order placed or cancelled). Three shapes reach us:

    * new (since 2025-09): ``price_changes[]``, entries for either token of the market;
    * old: top-level ``asset_id`` + ``changes[{price, side, size}]``;
    * old, flat (nautilus fixture ``price_change.json``): top-level ``asset_id``, ``price``,
      ``side``, ``size``.
    """

    market: str
    timestamp: str
    price_changes: list[PriceChange] | None = None
    asset_id: str | None = None
    changes: list[LegacyChange] | None = None
    price: str | None = None
    side: WireSide | None = None
    size: str | None = None
    hash: str | None = None

    def entries(self) -> list[PriceChange]:
        """The changes of any of the three shapes, as new-format entries; `BadValue` if none."""
        if self.price_changes is not None:
            return self.price_changes
        asset_id = self.asset_id
        if asset_id is None:
            raise BadValue("price_change", "has neither 'price_changes' nor 'asset_id'")
        if self.changes is not None:
            return [
                PriceChange(asset_id=asset_id, price=c.price, size=c.size, side=c.side)
                for c in self.changes
            ]
        if self.price is None or self.size is None or self.side is None:
            raise BadValue("price_change", "old format without 'changes' or 'price'/'size'/'side'")
        return [PriceChange(asset_id=asset_id, price=self.price, size=self.size, side=self.side)]


class LastTradePriceMsg(_Event, frozen=True, kw_only=True, tag="last_trade_price"):
    """One trade on one token; ``side`` is the taker's."""

    market: str
    asset_id: str
    price: str
    side: WireSide
    size: str
    timestamp: str
    fee_rate_bps: str | None = None
    transaction_hash: str | None = None


class TickSizeChangeMsg(_Event, frozen=True, kw_only=True, tag="tick_size_change"):
    """The token's minimum price increment changed (near 0 or 1)."""

    market: str
    asset_id: str
    old_tick_size: str
    new_tick_size: str
    timestamp: str


class BestBidAskMsg(_Event, frozen=True, kw_only=True, tag="best_bid_ask"):
    """Top of book of one token (custom feature)."""

    market: str
    asset_id: str
    best_bid: str
    best_ask: str
    spread: str | None = None
    timestamp: str


class EventMessage(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The parent event carried in ``new_market``."""

    id: str | None = None
    ticker: str | None = None
    slug: str | None = None
    title: str | None = None
    description: str | None = None


class NewMarketMsg(_Event, frozen=True, kw_only=True, tag="new_market"):
    """A market was created (custom feature); ``assets_ids`` align with ``outcomes``."""

    id: str | None = None
    question: str | None = None
    market: str
    slug: str | None = None
    description: str | None = None
    assets_ids: list[str]
    outcomes: list[str]
    event_message: EventMessage | None = None
    timestamp: str
    tags: list[str] | None = None
    condition_id: str | None = None
    active: bool | None = None
    clob_token_ids: list[str] | None = None
    order_price_min_tick_size: str | None = None
    group_item_title: str | None = None


class MarketResolvedMsg(_Event, frozen=True, kw_only=True, tag="market_resolved"):
    """A market was resolved (custom feature)."""

    id: str | None = None
    market: str
    assets_ids: list[str] | None = None
    winning_asset_id: str
    winning_outcome: str
    timestamp: str
    tags: list[str] | None = None


MarketMessage = (
    BookMsg
    | PriceChangeMsg
    | LastTradePriceMsg
    | TickSizeChangeMsg
    | BestBidAskMsg
    | NewMarketMsg
    | MarketResolvedMsg
)
MarketFrame = MarketMessage | list[MarketMessage]
"""A frame holds one message or a JSON array of them."""


class EventHeader(msgspec.Struct, frozen=True):
    """Just enough of any object to tell what it is."""

    event_type: str | None = None


# -- client requests ---------------------------------------------------------------------
class InitialSubscribe(msgspec.Struct, frozen=True, kw_only=True):
    """First frame after connecting: the assets of the session."""

    assets_ids: list[str]
    type: str = "market"
    custom_feature_enabled: bool = True
    initial_dump: bool = True


class SubscriptionUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """Later frames: add or remove assets on a live session (no ack comes back)."""

    assets_ids: list[str]
    operation: Literal["subscribe", "unsubscribe"]
    custom_feature_enabled: bool = True


# -- CLOB REST ---------------------------------------------------------------------------
class ClobToken(msgspec.Struct, frozen=True, kw_only=True):
    """One outcome token of a CLOB market (``price`` is a JSON number)."""

    token_id: str
    outcome: str
    price: Number = NULL
    winner: bool | None = None


class ClobMarketWire(msgspec.Struct, frozen=True, kw_only=True):
    """One market of CLOB ``GET /markets`` or ``GET /markets/{condition_id}``."""

    condition_id: str
    question_id: str | None = None
    question: str | None = None
    market_slug: str | None = None
    end_date_iso: str | None = None
    game_start_time: str | None = None
    active: bool | None = None
    closed: bool | None = None
    archived: bool | None = None
    accepting_orders: bool | None = None
    enable_order_book: bool | None = None
    minimum_order_size: Number = NULL
    minimum_tick_size: Number = NULL
    maker_base_fee: Number = NULL
    taker_base_fee: Number = NULL
    neg_risk: bool | None = None
    neg_risk_market_id: str | None = None
    tokens: list[ClobToken] = []
    tags: list[str] | None = None


class ClobMarketsPage(msgspec.Struct, frozen=True, kw_only=True):
    """CLOB ``GET /markets?next_cursor=``: a page; the last one's cursor is ``LTE=``."""

    data: list[ClobMarketWire]
    next_cursor: str | None = None
    limit: int | None = None
    count: int | None = None


class ClobBook(msgspec.Struct, frozen=True, kw_only=True):
    """CLOB ``GET /book?token_id=``: the book of one token, as the WS ``book`` prints it."""

    market: str
    asset_id: str
    timestamp: str
    hash: str | None = None
    bids: list[Level]
    asks: list[Level]
    min_order_size: Number = NULL
    tick_size: Number = NULL
    neg_risk: bool | None = None
    last_trade_price: Number = NULL


class ClobFeeRate(msgspec.Struct, frozen=True, kw_only=True):
    """CLOB ``GET /fee-rate?token_id=``: the token's base fee in basis points."""

    base_fee: Number


# -- Gamma REST --------------------------------------------------------------------------
EncodedList = str | list[str] | None
"""A JSON-encoded string array (``"[\\"Yes\\", \\"No\\"]"``) or, in older answers, an array."""


class GammaFeeSchedule(msgspec.Struct, frozen=True, kw_only=True):
    """``feeSchedule`` of a Gamma market (fee = C x rate x (p(1-p))^exponent, taker only)."""

    exponent: Number = NULL
    rate: Number = NULL
    rebateRate: Number = NULL  # noqa: N815 - wire name
    takerOnly: bool | None = None  # noqa: N815 - wire name


class GammaMarketWire(msgspec.Struct, frozen=True, kw_only=True):
    """One Gamma market (``GET /markets``, ``/markets/{id}``, inside events)."""

    id: str | None = None
    question: str | None = None
    conditionId: str | None = None  # noqa: N815 - wire name
    questionID: str | None = None  # noqa: N815 - wire name
    questionId: str | None = None  # noqa: N815 - wire name (older answers)
    slug: str | None = None
    endDate: str | None = None  # noqa: N815 - wire name
    outcomes: EncodedList = None
    outcomePrices: EncodedList = None  # noqa: N815 - wire name
    clobTokenIds: EncodedList = None  # noqa: N815 - wire name
    active: bool | None = None
    closed: bool | None = None
    archived: bool | None = None
    acceptingOrders: bool | None = None  # noqa: N815 - wire name
    enableOrderBook: bool | None = None  # noqa: N815 - wire name
    orderPriceMinTickSize: Number = NULL  # noqa: N815 - wire name
    orderMinSize: Number = NULL  # noqa: N815 - wire name
    negRisk: bool | None = None  # noqa: N815 - wire name
    marketType: str | None = None  # noqa: N815 - wire name
    makerBaseFee: Number = NULL  # noqa: N815 - wire name
    takerBaseFee: Number = NULL  # noqa: N815 - wire name
    feesEnabled: bool | None = None  # noqa: N815 - wire name
    feeType: str | None = None  # noqa: N815 - wire name
    feeSchedule: GammaFeeSchedule | None = None  # noqa: N815 - wire name


class GammaTagWire(msgspec.Struct, frozen=True, kw_only=True):
    """One Gamma tag (``GET /tags``, inside events)."""

    id: str
    label: str | None = None
    slug: str | None = None


class GammaEventWire(msgspec.Struct, frozen=True, kw_only=True):
    """One Gamma event: a group of markets (``GET /events``, ``/events/{id}``)."""

    id: str
    ticker: str | None = None
    slug: str | None = None
    title: str | None = None
    description: str | None = None
    startDate: str | None = None  # noqa: N815 - wire name
    endDate: str | None = None  # noqa: N815 - wire name
    active: bool | None = None
    closed: bool | None = None
    archived: bool | None = None
    negRisk: bool | None = None  # noqa: N815 - wire name
    negRiskMarketID: str | None = None  # noqa: N815 - wire name
    markets: list[GammaMarketWire] = []
    tags: list[GammaTagWire] = []


class GammaPagination(msgspec.Struct, frozen=True, kw_only=True):
    """``pagination`` of ``GET /public-search``."""

    hasMore: bool = False  # noqa: N815 - wire name
    totalResults: int | None = None  # noqa: N815 - wire name


class GammaSearchResponse(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /public-search``: matching events (each with its markets)."""

    events: list[GammaEventWire] = []
    pagination: GammaPagination | None = None


# -- number texts ------------------------------------------------------------------------
class BadValue(Exception):  # noqa: N818 - internal signal, becomes MalformedFrame at the boundary
    """A field's text is not what the wire promises; ``str()`` names the field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


_DECIMAL_RE: Final = re.compile(r"([0-9]*)(?:\.([0-9]+))?")
_MAX_TEXT_CHARS: Final = 64
_CACHE_MAX_ENTRIES: Final = 1 << 16
_NS_PER_MS: Final = 1_000_000
_MAX_TS_MS_DIGITS: Final = 16
_sizes: dict[str, str] = {}
_prices: dict[str, str] = {}
_complements: dict[str, str] = {}


def _canonical(text: str, field: str) -> str:
    match = _DECIMAL_RE.fullmatch(text) if len(text) <= _MAX_TEXT_CHARS else None
    if match is None or text in ("", "."):
        raise BadValue(field, f"not a decimal number: {text[:_MAX_TEXT_CHARS]!r}")
    whole = match.group(1).lstrip("0") or "0"
    fraction = (match.group(2) or "").rstrip("0")
    return f"{whole}.{fraction}" if fraction else whole


def _remember(cache: dict[str, str], text: str, value: str) -> str:
    if len(cache) >= _CACHE_MAX_ENTRIES:
        cache.clear()
    cache[text] = value
    return value


def size_text(text: str, field: str = "size") -> str:
    """Canonical text of a non-negative decimal string; `BadValue` if it is not one."""
    found = _sizes.get(text)
    if found is None:
        found = _remember(_sizes, text, _canonical(text, field))
    return found


def price_text(text: str, field: str = "price") -> str:
    """Canonical text of a probability (decimal string in [0, 1]); `BadValue` otherwise.

    Canonical texts of numbers in [0, 1] are ``"0"``, ``"1"`` or ``"0.<digits>"``, so they
    sort as strings exactly as the numbers do.
    """
    found = _prices.get(text)
    if found is None:
        value = _canonical(text, field)
        if not (value in ("0", "1") or value.startswith("0.")):
            raise BadValue(field, f"price outside [0, 1]: {text!r}")
        found = _remember(_prices, text, value)
    return found


def complement(price: str) -> str:
    """``1 - price`` for a canonical price text in [0, 1], exactly (integer arithmetic)."""
    found = _complements.get(price)
    if found is None:
        if price == "0":
            value = "1"
        elif price == "1":
            value = "0"
        else:
            digits = price[2:]
            value = scaled_int_text(10 ** len(digits) - int(digits), len(digits))
        found = _remember(_complements, price, value)
    return found


def mirror_top(no_bid: str | None, no_ask: str | None) -> tuple[str | None, str | None]:
    """The YES (bid, ask) equal to a NO token's (bid, ask): (1 - NO ask, 1 - NO bid)."""
    return (
        None if no_ask is None else complement(no_ask),
        None if no_bid is None else complement(no_bid),
    )


def _top(text: str, field: str, empty: str) -> str | None:
    if not text:
        return None
    price = price_text(text, field)
    return None if price == empty else price


def best_bid_text(text: str, field: str = "best_bid") -> str | None:
    """A ``best_bid`` as a price; None for an empty bid side.

    The venue prints an empty bid side as ``"0"`` and an empty ask side as ``"1"``
    (PM-DOCS market-channel example), prices no order can have (the grid is
    [tick, 1 - tick]); ``""`` also reads as empty.
    """
    return _top(text, field, "0")


def best_ask_text(text: str, field: str = "best_ask") -> str | None:
    """A ``best_ask`` as a price; None for an empty ask side (``"1"`` or ``""``)."""
    return _top(text, field, "1")


def timestamp_ns(text: str, field: str = "timestamp") -> int:
    """Unix ns of a Unix-milliseconds decimal string."""
    if not (text.isascii() and text.isdigit() and len(text) <= _MAX_TS_MS_DIGITS):
        raise BadValue(field, f"not a Unix time in ms: {text[:_MAX_TEXT_CHARS]!r}")
    return int(text) * _NS_PER_MS


def raw_decimal(raw: msgspec.Raw, field: str) -> str | None:
    """Canonical text of a REST number given as a JSON number or a string; None for null/""."""
    data = bytes(raw)
    if data in (b"null", b'""'):
        return None
    if data[:1] == b'"':
        try:
            text = msgspec.json.decode(data, type=str)
        except msgspec.DecodeError:
            raise BadValue(field, f"not a decimal number: {data[:_MAX_TEXT_CHARS]!r}") from None
        if not text:
            return None
        negative = text.startswith("-")
        value = _canonical(text[1:] if negative else text, field)
        return "-" + value if negative and value != "0" else value
    try:
        return number_text(data)
    except ValueError as exc:
        raise BadValue(field, str(exc)) from None


def sorted_levels(levels: list[Level], field: str, *, descending: bool) -> list[PriceLevel]:
    """A book side as canonical levels, best first; zero sizes dropped.

    The venue's order is not relied on (real traffic prints bids ascending, asks
    descending). Canonical texts of [0, 1] prices sort as the numbers do, so no Decimal.
    """
    kept = [
        (price_text(level.price, f"{field}.price"), size_text(level.size, f"{field}.size"))
        for level in levels
    ]
    kept.sort(reverse=descending)
    return [PriceLevel(price, size) for price, size in kept if size != "0"]
