"""Kraken Futures public wire messages: WebSocket v1 and public REST, as frozen structs.

Field names are exactly the wire's (``tickSize``, ``product_id``, ``openInterest``), so a
struct reads like the venue's documentation and the simulator can encode the same struct
back to the same bytes. Numbers are JSON numbers on this venue; they are kept as
`msgspec.Raw` (the number's raw text) and turned into exact decimal strings in `parse`, so
no value ever passes through a binary float. Timestamps are Unix milliseconds.

Data messages are tagged by ``feed``; control messages by ``event``. Unknown fields are
ignored (the venue adds fields over time); missing required fields and wrong types fail
decoding. Private feeds and trading endpoints are in `wire_private`.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

import msgspec

Number = msgspec.Raw
"""Raw text of a JSON number, converted exactly by `ssmd.venues.numbers`."""
NULL: Final = msgspec.Raw(b"null")
"""Default of optional numbers: absent and JSON ``null`` both read as raw ``null``.

(msgspec cannot decode ``Raw | None``, so absence is this sentinel rather than None.)"""
TimestampMs = Annotated[int, msgspec.Meta(ge=0)]
Sequence = Annotated[int, msgspec.Meta(ge=0)]
WireSide = Literal["buy", "sell"]


# -- WebSocket data messages (tag: feed) ------------------------------------------------
class _Feed(msgspec.Struct, frozen=True, kw_only=True, tag_field="feed"):
    """A data message; ``feed`` names it."""


class BookLevel(msgspec.Struct, frozen=True):
    """One level of a ``book_snapshot``."""

    price: Number
    qty: Number


class BookSnapshotMsg(_Feed, frozen=True, kw_only=True, tag="book_snapshot"):
    """The full book of one product, first message after subscribing to ``book``."""

    product_id: str
    timestamp: TimestampMs
    seq: Sequence
    tickSize: Number = NULL  # noqa: N815 - wire name
    bids: list[BookLevel]
    asks: list[BookLevel]


class BookMsg(_Feed, frozen=True, kw_only=True, tag="book"):
    """One level changed; ``qty`` is the new absolute size (0 removes the level)."""

    product_id: str
    side: WireSide
    seq: Sequence
    price: Number
    qty: Number
    timestamp: TimestampMs


class TradeMsg(_Feed, frozen=True, kw_only=True, tag="trade"):
    """One trade; ``side`` is the taker's."""

    product_id: str
    uid: str
    side: WireSide
    type: str
    seq: Sequence
    time: TimestampMs
    qty: Number
    price: Number


class TradeSnapshotMsg(_Feed, frozen=True, kw_only=True, tag="trade_snapshot"):
    """Recent trades of one product (newest first), first message after subscribing."""

    product_id: str
    trades: list[TradeMsg]


class TickerMsg(_Feed, frozen=True, kw_only=True, omit_defaults=True, tag="ticker"):
    """Full ticker; funding fields only on perpetuals (absent ones are not encoded)."""

    time: TimestampMs
    product_id: str
    funding_rate: Number = NULL
    funding_rate_prediction: Number = NULL
    relative_funding_rate: Number = NULL
    relative_funding_rate_prediction: Number = NULL
    next_funding_rate_time: TimestampMs | None = None
    bid: Number = NULL
    ask: Number = NULL
    bid_size: Number = NULL
    ask_size: Number = NULL
    volume: Number = NULL
    dtm: int | None = None
    leverage: str | None = None
    index: Number = NULL
    premium: Number = NULL
    last: Number = NULL
    change: Number = NULL
    suspended: bool | None = None
    tag: str | None = None
    pair: str | None = None
    openInterest: Number = NULL  # noqa: N815 - wire name
    markPrice: Number = NULL  # noqa: N815 - wire name
    maturityTime: TimestampMs | None = None  # noqa: N815 - wire name
    post_only: bool | None = None
    volumeQuote: Number = NULL  # noqa: N815 - wire name
    open: Number = NULL
    high: Number = NULL
    low: Number = NULL


class TickerLiteMsg(_Feed, frozen=True, kw_only=True, omit_defaults=True, tag="ticker_lite"):
    """Reduced ticker: best prices and daily change, no sizes and no time."""

    product_id: str
    bid: Number = NULL
    ask: Number = NULL
    change: Number = NULL
    premium: Number = NULL
    volume: Number = NULL
    tag: str | None = None
    pair: str | None = None
    dtm: int | None = None
    maturityTime: TimestampMs | None = None  # noqa: N815 - wire name


class HeartbeatMsg(_Feed, frozen=True, kw_only=True, tag="heartbeat"):
    """Sent at intervals to clients subscribed to the ``heartbeat`` feed."""

    time: TimestampMs


DataMessage = (
    BookMsg
    | BookSnapshotMsg
    | TradeMsg
    | TradeSnapshotMsg
    | TickerMsg
    | TickerLiteMsg
    | HeartbeatMsg
)


# -- WebSocket control messages (tag: event) --------------------------------------------
class _Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="event", omit_defaults=True):
    """A request or a control answer; ``event`` names it. Absent fields are not encoded."""


class InfoMsg(_Event, frozen=True, kw_only=True, tag="info"):
    """First message of every connection."""

    version: int


class _SubscriptionRequest(_Event, frozen=True, kw_only=True):
    feed: str
    product_ids: list[str] | None = None
    # Private feeds only (challenge flow).
    api_key: str | None = None
    original_challenge: str | None = None
    signed_challenge: str | None = None


class SubscribeRequest(_SubscriptionRequest, frozen=True, kw_only=True, tag="subscribe"):
    """Client request: start feeds for products (``heartbeat`` takes no product ids)."""


class UnsubscribeRequest(_SubscriptionRequest, frozen=True, kw_only=True, tag="unsubscribe"):
    """Client request: stop feeds for products."""


class _SubscriptionAnswer(_Event, frozen=True, kw_only=True):
    feed: str | None = None
    product_ids: list[str] | None = None
    message: str | None = None


class SubscribedMsg(_SubscriptionAnswer, frozen=True, kw_only=True, tag="subscribed"):
    """Ack of a subscribe; the real server sends one per product."""


class SubscribedFailedMsg(_SubscriptionAnswer, frozen=True, kw_only=True, tag="subscribed_failed"):
    """A subscribe was refused."""


class UnsubscribedMsg(_SubscriptionAnswer, frozen=True, kw_only=True, tag="unsubscribed"):
    """Ack of an unsubscribe."""


class UnsubscribedFailedMsg(
    _SubscriptionAnswer, frozen=True, kw_only=True, tag="unsubscribed_failed"
):
    """An unsubscribe was refused."""


class ErrorMsg(_Event, frozen=True, kw_only=True, tag="error"):
    """A request was refused (``Json Error``, ``Invalid product id``, ...)."""

    message: str


class AlertMsg(_Event, frozen=True, kw_only=True, tag="alert"):
    """Server notice (e.g. maintenance, rate limit)."""

    message: str


class ChallengeMsg(_Event, frozen=True, kw_only=True, tag="challenge"):
    """Challenge flow: request carries ``api_key``; the answer carries ``message``."""

    api_key: str | None = None
    message: str | None = None


ControlMessage = (
    InfoMsg
    | SubscribeRequest
    | UnsubscribeRequest
    | SubscribedMsg
    | SubscribedFailedMsg
    | UnsubscribedMsg
    | UnsubscribedFailedMsg
    | ErrorMsg
    | AlertMsg
    | ChallengeMsg
)


class FrameHeader(msgspec.Struct, frozen=True):
    """Just enough of any frame to tell what it is."""

    feed: str | None = None
    event: str | None = None


# -- public REST (envelope: result, serverTime, error) ----------------------------------
class _Envelope(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """``result`` is ``success`` or ``error`` (then ``error`` holds the code)."""

    result: str | None = None
    serverTime: str | None = None  # noqa: N815 - wire name
    error: str | None = None


class MarginLevelWire(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A margin tier: from ``contracts`` (inverse) or ``numNonContractUnits`` (flexible)."""

    contracts: Number = NULL
    numNonContractUnits: Number = NULL  # noqa: N815 - wire name
    initialMargin: Number  # noqa: N815 - wire name
    maintenanceMargin: Number  # noqa: N815 - wire name


class InstrumentWire(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One entry of ``GET /instruments`` (indices carry only symbol, type, tradeable)."""

    symbol: str
    type: str
    underlying: str | None = None
    tickSize: Number = NULL  # noqa: N815 - wire name
    contractSize: Number = NULL  # noqa: N815 - wire name
    tradeable: bool | None = None
    impactMidSize: Number = NULL  # noqa: N815 - wire name
    maxPositionSize: Number = NULL  # noqa: N815 - wire name
    openingDate: str | None = None  # noqa: N815 - wire name
    marginLevels: list[MarginLevelWire] | None = None  # noqa: N815 - wire name
    retailMarginLevels: list[MarginLevelWire] | None = None  # noqa: N815 - wire name
    fundingRateCoefficient: Number = NULL  # noqa: N815 - wire name
    maxRelativeFundingRate: Number = NULL  # noqa: N815 - wire name
    isin: str | None = None
    contractValueTradePrecision: Number = NULL  # noqa: N815 - wire name
    postOnly: bool | None = None  # noqa: N815 - wire name
    feeScheduleUid: str | None = None  # noqa: N815 - wire name
    mtf: bool | None = None
    base: str | None = None
    quote: str | None = None
    pair: str | None = None
    category: str | None = None
    tags: list[str] | None = None
    lastTradingTime: str | None = None  # noqa: N815 - wire name


class InstrumentsResponse(_Envelope, frozen=True, kw_only=True):
    """``GET /derivatives/api/v3/instruments``."""

    instruments: list[InstrumentWire] = []


class TickerWire(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One entry of ``GET /tickers``."""

    symbol: str
    last: Number = NULL
    lastTime: str | None = None  # noqa: N815 - wire name
    tag: str | None = None
    pair: str | None = None
    markPrice: Number = NULL  # noqa: N815 - wire name
    bid: Number = NULL
    bidSize: Number = NULL  # noqa: N815 - wire name
    ask: Number = NULL
    askSize: Number = NULL  # noqa: N815 - wire name
    vol24h: Number = NULL
    volumeQuote: Number = NULL  # noqa: N815 - wire name
    openInterest: Number = NULL  # noqa: N815 - wire name
    open24h: Number = NULL
    high24h: Number = NULL
    low24h: Number = NULL
    lastSize: Number = NULL  # noqa: N815 - wire name
    fundingRate: Number = NULL  # noqa: N815 - wire name
    fundingRatePrediction: Number = NULL  # noqa: N815 - wire name
    suspended: bool | None = None
    indexPrice: Number = NULL  # noqa: N815 - wire name
    postOnly: bool | None = None  # noqa: N815 - wire name
    change24h: Number = NULL


class TickersResponse(_Envelope, frozen=True, kw_only=True):
    """``GET /derivatives/api/v3/tickers``."""

    tickers: list[TickerWire] = []


class OrderBookWire(msgspec.Struct, frozen=True):
    """Levels as ``[price, qty]`` pairs, best first."""

    bids: list[tuple[Number, Number]] = []
    asks: list[tuple[Number, Number]] = []


class OrderBookResponse(_Envelope, frozen=True, kw_only=True):
    """``GET /derivatives/api/v3/orderbook?symbol=``."""

    orderBook: OrderBookWire | None = None  # noqa: N815 - wire name


class FundingRateWire(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of ``GET /historical-funding-rates``."""

    timestamp: str
    fundingRate: Number  # noqa: N815 - wire name
    relativeFundingRate: Number = NULL  # noqa: N815 - wire name


class HistoricalFundingRatesResponse(_Envelope, frozen=True, kw_only=True):
    """``GET /derivatives/api/v3/historical-funding-rates?symbol=``."""

    rates: list[FundingRateWire] = []


class CandleWire(msgspec.Struct, frozen=True, kw_only=True):
    """One OHLC candle of the charts API (values are decimal strings there)."""

    time: TimestampMs
    open: str
    high: str
    low: str
    close: str
    volume: str


class CandlesResponse(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /api/charts/v1/{tick_type}/{symbol}/{resolution}``."""

    candles: list[CandleWire] = []
    more_candles: bool = False


class PublicExecutionElement(msgspec.Struct, frozen=True, kw_only=True):
    """One element of the history API's public executions; ``event`` kept as sent."""

    uid: str
    timestamp: TimestampMs
    event: dict[str, object]


class PublicExecutionsResponse(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /api/history/v3/market/{symbol}/executions``."""

    elements: list[PublicExecutionElement] = []
    len: int = 0
    continuationToken: str | None = None  # noqa: N815 - wire name
