"""Kalshi WebSocket v2 wire messages as frozen structs, field names exactly as on the wire.

Server frames are one union tagged by ``type``: command replies (``subscribed``, ``ok``,
``unsubscribed``, ``error``) and data messages (``orderbook_snapshot``, ``orderbook_delta``,
``ticker``, ``trade``, ``market_lifecycle_v2``, ``event_lifecycle``, ``event_fee_update``,
and the private ``fill`` and ``market_position``). The envelope is ``{type, sid, seq?, id?,
msg}``; `seq` counts per subscription (``sid``), not per market. Client commands
``{id, cmd, params}`` are in `requests`.

Two spec revisions are accepted (shared/VENUES.md 1.7): the current one carries prices as
dollar strings (``*_dollars``, e.g. ``"0.5600"``) and counts as fixed-point strings (``*_fp``,
``"12.00"``); the older one also (or only) has integer-cent prices and integer counts
(``yes``, ``no``, ``price``, ``delta``, ``count``, ``yes_bid``...). Every field that one of
the revisions lacks is optional here; `parse` picks the current field and falls back to the
legacy one. Unknown fields are ignored (the venue adds fields over time); wrong types fail
decoding. Other JSON numbers (strikes, fee multipliers) decode to exact `Decimal`, never float.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Final, Literal

import msgspec

Sid = Annotated[int, msgspec.Meta(ge=0)]
Seq = Annotated[int, msgspec.Meta(ge=0)]
CommandId = Annotated[int, msgspec.Meta(ge=0)]
"""Client-chosen command id, echoed in replies; 0 means "no id" (K-ASYNC-04 commandId)."""
MarketSide = Literal["yes", "no"]
BookSide = Literal["bid", "ask"]
DollarLevel = tuple[str, str]
"""``[price_dollars, count_fp]``, both decimal strings."""
LegacyDollarLevel = tuple[str, int]
"""2026-03 ``yes_dollars``/``no_dollars``: ``[price_dollars, integer count]``."""
CentLevel = tuple[int, int]
"""Legacy ``yes``/``no``: ``[price in cents, integer count]``."""
TimestampMs = Annotated[int, msgspec.Meta(ge=0)]
TimestampS = Annotated[int, msgspec.Meta(ge=0)]
Timestamp = TimestampS | str
"""``ts``: Unix seconds (int) on most messages, RFC 3339 text on ``orderbook_delta``."""


# -- server frames (tag: type) ----------------------------------------------------------------
class _Typed(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, tag_field="type"):
    """A server frame; ``type`` names it."""


class SubscribedBody(msgspec.Struct, frozen=True, kw_only=True):
    channel: str
    sid: Sid


class SubscribedMsg(_Typed, frozen=True, kw_only=True, tag="subscribed"):
    """One channel of a ``subscribe`` is live under ``msg.sid``."""

    id: CommandId | None = None
    msg: SubscribedBody


class OkBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """``update_subscription`` answer: the full market list after the update."""

    market_tickers: list[str] | None = None
    market_ids: list[str] | None = None


class SubscriptionEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a ``list_subscriptions`` answer."""

    channel: str
    sid: Sid


class OkMsg(_Typed, frozen=True, kw_only=True, tag="ok"):
    """Answer to ``update_subscription`` (object msg) or ``list_subscriptions`` (list msg)."""

    id: CommandId | None = None
    sid: Sid | None = None
    seq: Seq | None = None
    msg: OkBody | list[SubscriptionEntry] | None = None


class UnsubscribedMsg(_Typed, frozen=True, kw_only=True, tag="unsubscribed"):
    """One subscription of an ``unsubscribe`` ended (sequenced on its sid)."""

    id: CommandId | None = None
    sid: Sid | None = None
    seq: Seq | None = None


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    code: int
    msg: str = ""
    market_ticker: str | None = None
    market_tickers: list[str] | None = None


class ErrorMsg(_Typed, frozen=True, kw_only=True, tag="error"):
    """A command failed, or (with ``sid``) a subscription did; codes in config.ERROR_CODES."""

    id: CommandId | None = None
    sid: Sid | None = None
    seq: Seq | None = None
    msg: ErrorBody


class OrderbookSnapshotBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Both sides are bids; a side with no levels is absent."""

    market_ticker: str
    market_id: str | None = None
    yes_dollars_fp: list[DollarLevel] | None = None
    no_dollars_fp: list[DollarLevel] | None = None
    yes_dollars: list[LegacyDollarLevel] | None = None
    no_dollars: list[LegacyDollarLevel] | None = None
    yes: list[CentLevel] | None = None
    no: list[CentLevel] | None = None


class OrderbookSnapshotMsg(_Typed, frozen=True, kw_only=True, tag="orderbook_snapshot"):
    """The book of one market; ``id`` is set when it answers ``get_snapshot``."""

    id: CommandId | None = None
    sid: Sid
    seq: Seq
    msg: OrderbookSnapshotBody


class OrderbookDeltaBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """``delta_fp`` is a signed INCREMENT to the resting size at ``price_dollars``."""

    market_ticker: str
    market_id: str | None = None
    side: MarketSide
    price_dollars: str | None = None
    delta_fp: str | None = None
    price: int | None = None
    delta: int | None = None
    client_order_id: str | None = None
    subaccount: int | None = None
    ts: Timestamp | None = None
    ts_ms: TimestampMs | None = None


class OrderbookDeltaMsg(_Typed, frozen=True, kw_only=True, tag="orderbook_delta"):
    sid: Sid
    seq: Seq
    msg: OrderbookDeltaBody


class TickerBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Top of the YES book, last price and totals of one market."""

    market_ticker: str
    market_id: str | None = None
    price_dollars: str | None = None
    yes_bid_dollars: str | None = None
    yes_ask_dollars: str | None = None
    yes_bid_size_fp: str | None = None
    yes_ask_size_fp: str | None = None
    last_trade_size_fp: str | None = None
    volume_fp: str | None = None
    open_interest_fp: str | None = None
    dollar_volume: int | None = None
    dollar_open_interest: int | None = None
    price: int | None = None
    yes_bid: int | None = None
    yes_ask: int | None = None
    volume: int | None = None
    open_interest: int | None = None
    ts: Timestamp | None = None
    ts_ms: TimestampMs | None = None
    time: str | None = None


class TickerMsg(_Typed, frozen=True, kw_only=True, tag="ticker"):
    """Not sequenced."""

    sid: Sid
    seq: Seq | None = None
    msg: TickerBody


class TradeBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    trade_id: str
    market_ticker: str
    yes_price_dollars: str | None = None
    no_price_dollars: str | None = None
    count_fp: str | None = None
    yes_price: int | None = None
    no_price: int | None = None
    count: int | None = None
    taker_side: MarketSide | None = None
    taker_outcome_side: MarketSide | None = None
    taker_book_side: BookSide | None = None
    is_block_trade: bool | None = None
    ts: Timestamp | None = None
    ts_ms: TimestampMs | None = None


class TradeMsg(_Typed, frozen=True, kw_only=True, tag="trade"):
    """Sequenced in the current spec; the older examples had no ``seq``."""

    sid: Sid
    seq: Seq | None = None
    msg: TradeBody


class PriceRange(msgspec.Struct, frozen=True, kw_only=True):
    """A price band and its tick, dollar strings."""

    start: str
    end: str
    step: str


class AdditionalMetadata(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What a ``created`` lifecycle message says about the new market."""

    name: str | None = None
    title: str | None = None
    yes_sub_title: str | None = None
    no_sub_title: str | None = None
    rules_primary: str | None = None
    rules_secondary: str | None = None
    can_close_early: bool | None = None
    event_ticker: str | None = None
    expected_expiration_ts: int | None = None
    strike_type: str | None = None
    floor_strike: Decimal | None = None
    cap_strike: Decimal | None = None
    custom_strike: dict[str, object] | None = None


class MarketLifecycleBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One lifecycle step of a market; optional keys only for their ``event_type``.

    ``event_type``: created, activated, deactivated (``is_deactivated`` says paused or not),
    close_date_updated, determined, settled, price_level_structure_updated, metadata_updated.
    Times are Unix seconds.
    """

    market_ticker: str
    event_type: str
    exchange_index: int | None = None
    open_ts: TimestampS | None = None
    close_ts: TimestampS | None = None
    determination_ts: TimestampS | None = None
    settled_ts: TimestampS | None = None
    result: str | None = None
    settlement_value: str | None = None
    is_deactivated: bool | None = None
    additional_metadata: AdditionalMetadata | None = None
    price_level_structure: str | None = None
    price_ranges: list[PriceRange] | None = None
    strike_type: str | None = None
    floor_strike: Decimal | None = None
    cap_strike: Decimal | None = None
    custom_strike: dict[str, object] | None = None
    yes_sub_title: str | None = None
    no_sub_title: str | None = None


class MarketLifecycleMsg(_Typed, frozen=True, kw_only=True, tag="market_lifecycle_v2"):
    sid: Sid
    seq: Seq | None = None
    msg: MarketLifecycleBody


class EventLifecycleBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """An event (a group of markets) was created; ``strike_date`` in Unix seconds."""

    event_ticker: str
    series_ticker: str
    title: str = ""
    subtitle: str = ""
    collateral_return_type: str = ""
    exchange_index: int | None = None
    strike_date: int | None = None
    strike_period: str | None = None


class EventLifecycleMsg(_Typed, frozen=True, kw_only=True, tag="event_lifecycle"):
    sid: Sid
    seq: Seq | None = None
    msg: EventLifecycleBody


class EventFeeUpdateBody(msgspec.Struct, frozen=True, kw_only=True):
    """Fee overrides of an event; null values mean the override was cleared."""

    event_ticker: str
    fee_type_override: str | None = None
    fee_multiplier_override: Decimal | None = None


class EventFeeUpdateMsg(_Typed, frozen=True, kw_only=True, tag="event_fee_update"):
    sid: Sid
    seq: Seq | None = None
    msg: EventFeeUpdateBody


class FillBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One fill of the user's order (private ``fill`` channel)."""

    trade_id: str
    order_id: str
    market_ticker: str
    is_taker: bool
    client_order_id: str | None = None
    exchange_index: int | None = None
    side: MarketSide | None = None
    outcome_side: MarketSide | None = None
    book_side: BookSide | None = None
    action: str | None = None
    purchased_side: MarketSide | None = None
    yes_price_dollars: str | None = None
    count_fp: str | None = None
    fee_cost: str | None = None
    post_position_fp: str | None = None
    yes_price: int | None = None
    count: int | None = None
    post_position: int | None = None
    subaccount: int | None = None
    ts: Timestamp | None = None
    ts_ms: TimestampMs | None = None


class FillMsg(_Typed, frozen=True, kw_only=True, tag="fill"):
    sid: Sid
    seq: Seq | None = None
    msg: FillBody


class MarketPositionBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The user's position in one market; legacy money fields are in centi-cents (1e-4 $)."""

    market_ticker: str
    user_id: str | None = None
    position_fp: str | None = None
    position_cost_dollars: str | None = None
    realized_pnl_dollars: str | None = None
    fees_paid_dollars: str | None = None
    position_fee_cost_dollars: str | None = None
    volume_fp: str | None = None
    position: int | None = None
    position_cost: int | None = None
    realized_pnl: int | None = None
    fees_paid: int | None = None
    position_fee_cost: int | None = None
    volume: int | None = None
    subaccount: int | None = None


class MarketPositionMsg(_Typed, frozen=True, kw_only=True, tag="market_position"):
    sid: Sid
    seq: Seq | None = None
    msg: MarketPositionBody


ReplyMessage = SubscribedMsg | OkMsg | UnsubscribedMsg | ErrorMsg
DataMessage = (
    OrderbookSnapshotMsg
    | OrderbookDeltaMsg
    | TickerMsg
    | TradeMsg
    | MarketLifecycleMsg
    | EventLifecycleMsg
    | EventFeeUpdateMsg
    | FillMsg
    | MarketPositionMsg
)
ServerMessage = ReplyMessage | DataMessage
SERVER_TYPES: Final[frozenset[str]] = frozenset(
    str(cls.__struct_config__.tag) for cls in (*ReplyMessage.__args__, *DataMessage.__args__)
)
"""Every ``type`` this module knows; a frame of another type is not malformed, just unknown."""


class FrameHeader(msgspec.Struct, frozen=True):
    """Just enough of any frame to tell what it is (read when the full decode failed)."""

    type: str | None = None
    sid: object = None
    seq: object = None


# -- text times --------------------------------------------------------------------------------
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_NS_PER_S: Final = 1_000_000_000
_RFC3339_RE: Final = re.compile(
    r"(\d{4}-\d\d-\d\d)[Tt ](\d\d:\d\d:\d\d)(?:\.(\d{1,9})\d*)?([Zz]|[+-]\d\d:\d\d)",
    re.ASCII,
)


def rfc3339_ns(text: str) -> int:
    """Unix nanoseconds of an RFC 3339 time (``2022-11-22T20:44:01.5Z``), exact to the ns.

    Kalshi's text times (``ts`` of deltas, REST ``created_time``...) may carry up to 9
    fractional digits, which `datetime` would round to microseconds. ValueError if not one.
    """
    match = _RFC3339_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {text[:64]!r}")
    date, clock, fraction, zone = match.groups()
    offset = "+00:00" if zone in ("Z", "z") else zone
    try:
        moment = datetime.fromisoformat(f"{date}T{clock}{offset}")
    except ValueError:
        raise ValueError(f"not an RFC 3339 time: {text[:64]!r}") from None
    seconds = (moment - _EPOCH) // timedelta(seconds=1)
    ns = seconds * _NS_PER_S + (int(fraction.ljust(9, "0")) if fraction else 0)
    if ns < 0:
        raise ValueError(f"time before 1970: {text[:64]!r}")
    return ns
