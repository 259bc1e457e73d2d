"""Kraken Futures private wire messages: authenticated feeds and trading endpoints.

Shapes from shared/VENUES.md sections 2.4 and 2.5 and the fixtures there; the OMS adapter
builds on these. Like `wire`, names are the wire's, numbers stay raw JSON text, unknown
fields are ignored. The market-data parser only recognizes these feeds (as unsupported);
`decode_private_ws` and the ``*Response`` structs decode them when an account is involved.
"""

from __future__ import annotations

import msgspec

from ssmd.venues.errors import MalformedFrame
from ssmd.venues.kraken_futures.wire import NULL, Number, TimestampMs


# -- WebSocket private feeds (tag: feed) -------------------------------------------------
class _PrivateFeed(msgspec.Struct, frozen=True, kw_only=True, tag_field="feed"):
    """A private-feed message."""


class FillItem(msgspec.Struct, frozen=True, kw_only=True):
    """One fill of the ``fills`` feeds; ``buy`` is the order's direction."""

    instrument: str
    time: TimestampMs
    price: Number
    seq: int
    buy: bool
    qty: Number
    remaining_order_qty: Number = NULL
    order_id: str
    cli_ord_id: str | None = None
    fill_id: str
    fill_type: str
    fee_paid: Number = NULL
    fee_currency: str | None = None
    taker_order_type: str | None = None
    order_type: str | None = None


class FillsSnapshotMsg(_PrivateFeed, frozen=True, kw_only=True, tag="fills_snapshot"):
    account: str | None = None
    fills: list[FillItem] = []


class FillsMsg(_PrivateFeed, frozen=True, kw_only=True, tag="fills"):
    username: str | None = None
    fills: list[FillItem] = []


class OpenOrderItem(msgspec.Struct, frozen=True, kw_only=True):
    """An order as the ``open_orders`` feeds show it; ``direction`` 0 = buy, 1 = sell."""

    instrument: str
    time: TimestampMs
    last_update_time: TimestampMs
    qty: Number
    filled: Number
    limit_price: Number = NULL
    stop_price: Number = NULL
    type: str
    order_id: str
    cli_ord_id: str | None = None
    direction: int
    reduce_only: bool = False
    triggerSignal: str | None = None  # noqa: N815 - wire name


class OpenOrdersSnapshotMsg(_PrivateFeed, frozen=True, kw_only=True, tag="open_orders_snapshot"):
    account: str | None = None
    orders: list[OpenOrderItem] = []


class OpenOrdersMsg(_PrivateFeed, frozen=True, kw_only=True, tag="open_orders"):
    """An order update; a cancel may carry only the order id and the reason."""

    order: OpenOrderItem | None = None
    order_id: str | None = None
    cli_ord_id: str | None = None
    is_cancel: bool
    reason: str


PrivateFeedMessage = FillsSnapshotMsg | FillsMsg | OpenOrdersSnapshotMsg | OpenOrdersMsg
_PRIVATE_DECODER: msgspec.json.Decoder[PrivateFeedMessage] = msgspec.json.Decoder(
    PrivateFeedMessage
)


def decode_private_ws(frame: bytes | str) -> PrivateFeedMessage:
    """Decode a private-feed frame; `MalformedFrame` if it is not one of the known shapes."""
    try:
        return _PRIVATE_DECODER.decode(frame)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raw = frame.encode() if isinstance(frame, str) else bytes(frame)
        raise MalformedFrame(raw, f"not a private feed message: {exc}") from None


# -- trading REST ---------------------------------------------------------------------
class _Envelope(msgspec.Struct, frozen=True, kw_only=True):
    result: str | None = None
    serverTime: str | None = None  # noqa: N815 - wire name
    error: str | None = None


class SendStatusWire(msgspec.Struct, frozen=True, kw_only=True):
    status: str
    order_id: str | None = None
    cli_ord_id: str | None = None
    receivedTime: str | None = None  # noqa: N815 - wire name
    orderEvents: list[dict[str, object]] = []  # noqa: N815 - wire name


class SendOrderResponse(_Envelope, frozen=True, kw_only=True):
    """``POST /sendorder``."""

    sendStatus: SendStatusWire | None = None  # noqa: N815 - wire name


class CancelStatusWire(msgspec.Struct, frozen=True, kw_only=True):
    status: str
    order_id: str | None = None
    cliOrdId: str | None = None  # noqa: N815 - wire name
    receivedTime: str | None = None  # noqa: N815 - wire name
    orderEvents: list[dict[str, object]] = []  # noqa: N815 - wire name


class CancelOrderResponse(_Envelope, frozen=True, kw_only=True):
    """``POST /cancelorder``."""

    cancelStatus: CancelStatusWire | None = None  # noqa: N815 - wire name


class FillWire(msgspec.Struct, frozen=True, kw_only=True):
    fill_id: str
    symbol: str
    side: str
    order_id: str
    fillTime: str  # noqa: N815 - wire name
    size: Number
    price: Number
    fillType: str  # noqa: N815 - wire name
    cli_ord_id: str | None = None
    fee_paid: Number = NULL
    fee_currency: str | None = None


class FillsResponse(_Envelope, frozen=True, kw_only=True):
    """``GET /fills``."""

    fills: list[FillWire] = []


class OpenOrderWire(msgspec.Struct, frozen=True, kw_only=True):
    order_id: str
    symbol: str
    side: str
    orderType: str  # noqa: N815 - wire name
    limitPrice: Number = NULL  # noqa: N815 - wire name
    stopPrice: Number = NULL  # noqa: N815 - wire name
    unfilledSize: Number  # noqa: N815 - wire name
    receivedTime: str  # noqa: N815 - wire name
    status: str
    filledSize: Number  # noqa: N815 - wire name
    reduceOnly: bool = False  # noqa: N815 - wire name
    triggerSignal: str | None = None  # noqa: N815 - wire name
    lastUpdateTime: str | None = None  # noqa: N815 - wire name
    cli_ord_id: str | None = None


class OpenOrdersResponse(_Envelope, frozen=True, kw_only=True):
    """``GET /openorders``."""

    openOrders: list[OpenOrderWire] = []  # noqa: N815 - wire name


class OpenPositionWire(msgspec.Struct, frozen=True, kw_only=True):
    side: str
    symbol: str
    price: Number
    fillTime: str  # noqa: N815 - wire name
    size: Number
    unrealizedFunding: Number = NULL  # noqa: N815 - wire name


class OpenPositionsResponse(_Envelope, frozen=True, kw_only=True):
    """``GET /openpositions``."""

    openPositions: list[OpenPositionWire] = []  # noqa: N815 - wire name


class OrderWire(msgspec.Struct, frozen=True, kw_only=True):
    """An order inside an order event of the history API."""

    orderId: str  # noqa: N815 - wire name
    cliOrdId: str | None = None  # noqa: N815 - wire name
    type: str
    symbol: str
    side: str
    quantity: Number
    filled: Number
    limitPrice: Number = NULL  # noqa: N815 - wire name
    stopPrice: Number = NULL  # noqa: N815 - wire name
    timestamp: str
    lastUpdateTimestamp: str  # noqa: N815 - wire name
    reduceOnly: bool = False  # noqa: N815 - wire name


class OrderEventWire(msgspec.Struct, frozen=True, kw_only=True):
    type: str
    order: OrderWire | None = None
    orderTrigger: dict[str, object] | None = None  # noqa: N815 - wire name
    reducedQuantity: Number = NULL  # noqa: N815 - wire name


class OrderEventsResponse(_Envelope, frozen=True, kw_only=True):
    """``GET /orderEvents`` (history API)."""

    orderEvents: list[OrderEventWire] = []  # noqa: N815 - wire name
