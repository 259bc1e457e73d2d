"""Polymarket market-channel frames as the simulator sends them, and the requests it reads.

Shapes follow real traffic (shared/fixtures/venues/polymarket/nautilus_trader, ``captured/``
and ``py_ws_messages/``): every number is a decimal string, timestamps are Unix
milliseconds as strings, ``hash`` is 40 hex digits without ``0x`` (as in every captured
``book`` and ``price_change``), prices print without trailing zeros (``"0.5"``). Rare
messages are frozen msgspec structs with the wire's field names, encoded by msgspec. The
three hot ones (``price_change``, ``last_trade_price``, ``best_bid_ask``) are filled into
byte templates that produce exactly what encoding their struct would (a test holds them
equal), so the generator never builds a struct or a Decimal per message.
"""

from __future__ import annotations

import random
from typing import Final

import msgspec

from ssmd.venues.numbers import scaled_int_text
from ssmd.venues.polymarket.config import (
    BEST_BID_ASK,
    BOOK,
    LAST_TRADE_PRICE,
    MARKET_RESOLVED,
    NEW_MARKET,
    PRICE_CHANGE,
    TICK_SIZE_CHANGE,
)

TICKS_PER_UNIT: Final = 100
"""Prices are integer cents: 1..99 on the book, 0 and 100 as the sentinels of no level."""
LOTS_PER_SHARE: Final = 100
"""Sizes are integer hundredths of a share (real sizes carry two decimals: ``85.36``)."""

PRICE_TEXT: Final = tuple(scaled_int_text(ticks, 2) for ticks in range(TICKS_PER_UNIT + 1))
"""Wire text of a price in cents: ``"0"``, ``"0.01"``, ..., ``"0.5"``, ..., ``"1"``."""
PRICE_BYTES: Final = tuple(text.encode() for text in PRICE_TEXT)


_FRACTION_TEXT: Final = tuple(scaled_int_text(cents, 2)[1:] for cents in range(LOTS_PER_SHARE))
"""``""``, ``".01"``, ..., ``".1"``, ..., ``".99"``: the fraction of a size, by its cents."""


def size_text(lots: int) -> str:
    """Wire text of a size in lots (hundredths): ``3300`` -> ``"33"``, ``8536`` -> ``"85.36"``,
    ``7028120`` -> ``"70281.2"`` (as `scaled_int_text`, several times faster: it is hot)."""
    whole, cents = divmod(lots, LOTS_PER_SHARE)
    return str(whole) + _FRACTION_TEXT[cents]


def mid_text(bid_ticks: int, ask_ticks: int) -> str:
    """The midpoint of two prices in cents, exactly (half a cent prints as ``0.505``)."""
    return scaled_int_text((bid_ticks + ask_ticks) * 5, 3)


# -- wire structs (field names and order as on the wire) ------------------------------------
class OrderSummary(msgspec.Struct, frozen=True):
    """One book level."""

    price: str
    size: str


class BookMsg(msgspec.Struct, frozen=True, kw_only=True):
    """``book``: a token's whole book; bids worst first (ascending), asks worst first
    (descending), as real traffic prints them."""

    market: str
    asset_id: str
    timestamp: str
    hash: str
    bids: list[OrderSummary]
    asks: list[OrderSummary]
    tick_size: str
    event_type: str = BOOK
    last_trade_price: str


class PriceChange(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of ``price_change``: a level's new size ("0" removes it) and the token's
    top of book after the change."""

    asset_id: str
    price: str
    side: str
    size: str
    hash: str
    best_bid: str
    best_ask: str


class PriceChangeMsg(msgspec.Struct, frozen=True, kw_only=True):
    market: str
    price_changes: list[PriceChange]
    event_type: str = PRICE_CHANGE
    timestamp: str


class LastTradePriceMsg(msgspec.Struct, frozen=True, kw_only=True):
    event_type: str = LAST_TRADE_PRICE
    market: str
    asset_id: str
    fee_rate_bps: str = "0"
    price: str
    side: str
    size: str
    timestamp: str
    transaction_hash: str


class BestBidAskMsg(msgspec.Struct, frozen=True, kw_only=True):
    event_type: str = BEST_BID_ASK
    market: str
    asset_id: str
    best_bid: str
    best_ask: str
    spread: str
    timestamp: str


class TickSizeChangeMsg(msgspec.Struct, frozen=True, kw_only=True):
    event_type: str = TICK_SIZE_CHANGE
    market: str
    asset_id: str
    old_tick_size: str
    new_tick_size: str
    timestamp: str


class EventMessage(msgspec.Struct, frozen=True, kw_only=True):
    """The event a ``new_market`` belongs to."""

    id: str
    ticker: str
    slug: str
    title: str
    description: str


class NewMarketMsg(msgspec.Struct, frozen=True, kw_only=True):
    event_type: str = NEW_MARKET
    id: str
    question: str
    market: str
    slug: str
    description: str
    assets_ids: list[str]
    outcomes: list[str]
    event_message: EventMessage
    timestamp: str
    tags: list[str]
    condition_id: str
    active: bool
    clob_token_ids: list[str]
    sports_market_type: str = ""
    line: str = ""
    game_start_time: str = ""
    order_price_min_tick_size: str
    group_item_title: str


class MarketResolvedMsg(msgspec.Struct, frozen=True, kw_only=True):
    event_type: str = MARKET_RESOLVED
    id: str
    market: str
    assets_ids: list[str]
    winning_asset_id: str
    winning_outcome: str
    timestamp: str
    tags: list[str]


class MarketSubscribe(msgspec.Struct, frozen=True):
    """A client's market-channel request: the first (``type: market``) or a later one
    (``operation: subscribe|unsubscribe``). Unknown fields are ignored, as a lenient
    server would."""

    assets_ids: list[str]
    type: str | None = None
    operation: str | None = None
    custom_feature_enabled: bool | None = None
    initial_dump: bool | None = None


_ENCODER: Final = msgspec.json.Encoder()
REQUEST_DECODER: Final = msgspec.json.Decoder(MarketSubscribe)


def encode(message: msgspec.Struct) -> bytes:
    return _ENCODER.encode(message)


def array(messages: list[bytes]) -> bytes:
    """A JSON array frame of already-encoded messages."""
    return b"[" + b",".join(messages) + b"]"


# -- hot templates (arguments in wire bytes, in field order) -------------------------------
_ENTRY: Final = (
    b'{"asset_id":"%s","price":"%s","side":"%s","size":"%s","hash":"%s",'
    b'"best_bid":"%s","best_ask":"%s"}'
)
PRICE_CHANGE_TEMPLATE: Final = (
    b'{"market":"%s","price_changes":[' + _ENTRY + b"," + _ENTRY + b'],"event_type":"'
    b'price_change","timestamp":"%s"}'
)
LAST_TRADE_TEMPLATE: Final = (
    b'{"event_type":"last_trade_price","market":"%s","asset_id":"%s","fee_rate_bps":"0",'
    b'"price":"%s","side":"%s","size":"%s","timestamp":"%s","transaction_hash":"%s"}'
)
BEST_BID_ASK_TEMPLATE: Final = (
    b'{"event_type":"best_bid_ask","market":"%s","asset_id":"%s","best_bid":"%s",'
    b'"best_ask":"%s","spread":"%s","timestamp":"%s"}'
)


def price_change_pair(
    market: bytes,
    yes: tuple[bytes, bytes, bytes, bytes, bytes, bytes, bytes],
    no: tuple[bytes, bytes, bytes, bytes, bytes, bytes, bytes],
    ts_ms: bytes,
) -> bytes:
    """A ``price_change`` with the YES entry and its NO mirror; each entry is
    (asset_id, price, side, size, hash, best_bid, best_ask) in wire bytes."""
    return PRICE_CHANGE_TEMPLATE % (market, *yes, *no, ts_ms)


def last_trade_price(
    *,
    market: bytes,
    asset_id: bytes,
    price: bytes,
    side: bytes,
    size: bytes,
    ts_ms: bytes,
    transaction_hash: bytes,
) -> bytes:
    return LAST_TRADE_TEMPLATE % (market, asset_id, price, side, size, ts_ms, transaction_hash)


def best_bid_ask(
    *, market: bytes, asset_id: bytes, best_bid: bytes, best_ask: bytes, spread: bytes, ts_ms: bytes
) -> bytes:
    return BEST_BID_ASK_TEMPLATE % (market, asset_id, best_bid, best_ask, spread, ts_ms)


# -- faults -------------------------------------------------------------------------------
def malformed_frame(rng: random.Random, condition_id: str, token_id: str, ts_ms: int) -> bytes:
    """One frame a Polymarket parser must reject: cut JSON, a ``price_change`` without
    ``price_changes`` or without ``market``, a ``book`` with a non-numeric price, not JSON.

    Always valid UTF-8, so it travels as a text frame like real data.
    """
    market, asset, ts = condition_id.encode(), token_id.encode(), str(ts_ms).encode()
    entry = (
        b'{"asset_id":"' + asset + b'","price":"0.5","side":"BUY","size":"10",'
        b'"hash":"00","best_bid":"0.5","best_ask":"0.51"}'
    )
    variants = (
        b'{"market":"' + market + b'","price_changes":[{"asset_id":"' + asset + b'","pri',
        b'{"market":"' + market + b'","event_type":"price_change","timestamp":"' + ts + b'"}',
        b'{"price_changes":[' + entry + b'],"event_type":"price_change","timestamp":"' + ts + b'"}',
        b'{"market":"' + market + b'","asset_id":"' + asset + b'","timestamp":"' + ts + b'",'
        b'"hash":"00","bids":[{"price":"abc","size":"10"}],"asks":[],"tick_size":"0.01",'
        b'"event_type":"book","last_trade_price":"0.5"}',
        b"{not json",
    )
    return variants[rng.randrange(len(variants))]
