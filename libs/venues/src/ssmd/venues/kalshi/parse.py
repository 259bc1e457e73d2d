"""The one place where Kalshi WebSocket frames become canonical events.

`KalshiParser.parse(frame, ts_recv_ns)` returns a `ParseResult` (``events``, ``control``):

* ``orderbook_snapshot`` -> BookSnapshot, ``orderbook_delta`` -> BookDelta, ``ticker`` -> Quote,
  ``trade`` -> Trade, ``market_lifecycle_v2`` -> MarketStatus when the market's status changes;
  every data frame also yields a `DataMark` control (sid, seq, kind, market, status, command
  id, book issue, and the wire body where a secmaster or the OMS needs it: lifecycle, event,
  fee, fill and position messages, which give no market events);
* replies -> `Reply` / `ErrorReply`; a well-formed frame of a type this module does not know
  -> `UnknownMessage`; anything else (not JSON, not an object, a known type with a missing or
  mistyped field, a price outside [0, 1]) -> `MalformedFrame`, its reason naming the field.

YES-leg normalization: Kalshi books are bids only. A YES bid at p is a canonical bid at p; a
NO bid at q is a canonical ask at 1 - q. ``delta_fp`` is an increment, canonical BookDelta
sizes are absolute, so the parser keeps each market's resting sizes (set by a snapshot,
moved by deltas) and emits the new size; a delta before any snapshot, or one that would make
a size negative (clamped to 0), is flagged in `DataMark.issue`.

Numbers stay text (see `book`): prices and sizes become canonical plain decimals
(``"0.5600"`` -> ``"0.56"``), 1 - q and size sums are scaled-integer arithmetic, never float or
Decimal; legacy integer cents become dollars exactly. Speed: data frames and replies decode in
one pass (one union tagged by ``type``); market ids and number texts come from caches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Literal

import msgspec

from ssmd.contracts.events import (
    BookDelta,
    BookSnapshot,
    MarketEvent,
    MarketStatus,
    Quote,
    Status,
    Trade,
)
from ssmd.contracts.symbols import market_id
from ssmd.venues.errors import MalformedFrame
from ssmd.venues.kalshi import config
from ssmd.venues.kalshi.book import (
    BookIssue,
    WireValueError,
    YesLegBooks,
    cents_text,
    count_text,
    decimal_text,
    price_text,
    side_levels,
    size_text,
)
from ssmd.venues.kalshi.wire import (
    SERVER_TYPES,
    ErrorMsg,
    EventFeeUpdateBody,
    EventFeeUpdateMsg,
    EventLifecycleBody,
    EventLifecycleMsg,
    FillBody,
    FillMsg,
    FrameHeader,
    MarketLifecycleBody,
    MarketLifecycleMsg,
    MarketPositionBody,
    MarketPositionMsg,
    OkMsg,
    OrderbookDeltaMsg,
    OrderbookSnapshotMsg,
    ReplyMessage,
    ServerMessage,
    SubscribedMsg,
    SubscriptionEntry,
    TickerMsg,
    Timestamp,
    TradeMsg,
    UnsubscribedMsg,
    rfc3339_ns,
)

VENUE: Final = config.VENUE
NS_PER_S: Final = 1_000_000_000
NS_PER_MS: Final = 1_000_000
_DECODER: Final = msgspec.json.Decoder(ServerMessage)
_HEADER_DECODER: Final = msgspec.json.Decoder(FrameHeader)
_CACHE_MAX: Final = 1 << 16
Detail = (
    MarketLifecycleBody | EventLifecycleBody | EventFeeUpdateBody | FillBody | MarketPositionBody
)
ReplyKind = Literal["subscribed", "ok", "unsubscribed", "list_subscriptions"]


# -- what a frame meant ------------------------------------------------------------------------
class DataMark(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Per data frame: what the connector needs for per-sid gaps, resync and lifecycle."""

    kind: str
    """The frame's ``type`` (``orderbook_delta``, ``ticker``...)."""
    sid: int
    seq: int | None = None
    """Per-sid sequence; None on unsequenced frames (ticker, fill, market_position)."""
    market: str | None = None
    """Canonical market id, None for event-level messages."""
    status: Status | None = None
    """The canonical status a lifecycle frame moved its market to (also sent as MarketStatus)."""
    id: int | None = None
    """The command id an ``orderbook_snapshot`` answers (``get_snapshot``)."""
    issue: BookIssue | None = None
    detail: Detail | None = None
    """The wire body of lifecycle, event, fee, fill and position messages."""


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    """A successful command reply; ``ok``/``unsubscribed`` carry the sid's ``seq``."""

    kind: ReplyKind
    id: int | None = None
    sid: int | None = None
    seq: int | None = None
    channel: str | None = None
    market_tickers: list[str] | None = None
    subscriptions: list[SubscriptionEntry] | None = None


class ErrorReply(msgspec.Struct, frozen=True, kw_only=True):
    """A refused command or a failed subscription (``sid`` set)."""

    id: int | None
    sid: int | None
    seq: int | None
    code: int
    msg: str
    code_text: str
    """The documented meaning of `code` (config.ERROR_CODES)."""
    market_tickers: list[str]
    terminal: bool
    """The subscription is gone (config.TERMINAL_ERRORS): subscribe again."""


class UnknownMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A well-formed frame of a type this parser does not use (RFQ, user_order...)."""

    type: str
    sid: int | None = None
    seq: int | None = None


Control = DataMark | Reply | ErrorReply | UnknownMessage


class ParseResult(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What one frame meant: canonical events (maybe none) and a control struct."""

    events: list[MarketEvent]
    control: Control | None = None


# -- helpers ---------------------------------------------------------------------------------
def _event_ns(ts_ms: int | None, ts: Timestamp | None, ts_recv_ns: int) -> int:
    """Venue time: ``ts_ms``, else ``ts`` (seconds or RFC 3339), else receive time."""
    if ts_ms is not None:
        return ts_ms * NS_PER_MS
    if ts is None:
        return ts_recv_ns
    if isinstance(ts, int):
        return ts * NS_PER_S
    try:
        return rfc3339_ns(ts)
    except ValueError as exc:
        raise WireValueError("ts", str(exc)) from None


def _price(dollars: str | None, cents: int | None, field: str, legacy: str) -> str | None:
    if dollars is not None:
        return price_text(dollars, field)
    if cents is not None:
        return cents_text(cents, legacy)
    return None


# -- the parser --------------------------------------------------------------------------------
class KalshiParser:
    """Parses Kalshi WebSocket v2 frames into canonical events; see module doc.

    One parser per connection: it keeps the resting sizes of every book it has seen (needed
    to turn increments into sizes, see `YesLegBooks`) and a cache of market ids.
    """

    def __init__(self) -> None:
        self._markets: dict[str, str] = {}
        self._results: dict[str, str] = {}  # ticker -> result of `determined`, until settled
        self.books = YesLegBooks()
        self._handlers: dict[type, Callable[[Any, int], ParseResult]] = {
            OrderbookDeltaMsg: self._delta,
            OrderbookSnapshotMsg: self._snapshot,
            TickerMsg: self._ticker,
            TradeMsg: self._trade,
            MarketLifecycleMsg: self._lifecycle,
            EventLifecycleMsg: self._detail,
            EventFeeUpdateMsg: self._detail,
            FillMsg: self._detail,
            MarketPositionMsg: self._detail,
            SubscribedMsg: self._reply,
            OkMsg: self._reply,
            UnsubscribedMsg: self._reply,
            ErrorMsg: self._reply,
        }

    def market(self, ticker: str) -> str:
        """The canonical market id of a ticker (kept as the venue spells it)."""
        found = self._markets.get(ticker)
        if found is None:
            if len(self._markets) >= _CACHE_MAX:
                self._markets.clear()
            found = market_id(VENUE, ticker)
            self._markets[ticker] = found
        return found

    def parse(self, frame: bytes | str, ts_recv_ns: int) -> ParseResult:
        """Decode one frame received at `ts_recv_ns`; raise `MalformedFrame` if it is bad."""
        try:
            message = _DECODER.decode(frame)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            return _not_decoded(frame, exc)
        try:
            return self._handlers[type(message)](message, ts_recv_ns)
        except WireValueError as exc:
            kind = type(message).__struct_config__.tag
            raise MalformedFrame(_as_bytes(frame), f"{kind} msg.{exc}") from None

    # -- order book -----------------------------------------------------------------------
    def _snapshot(self, message: OrderbookSnapshotMsg, ts_recv_ns: int) -> ParseResult:
        body = message.msg
        yes = side_levels(body.yes_dollars_fp, body.yes_dollars, body.yes, "yes")
        no = side_levels(body.no_dollars_fp, body.no_dollars, body.no, "no")
        bids, asks = self.books.snapshot(body.market_ticker, yes, no)
        market = self.market(body.market_ticker)
        event = BookSnapshot(
            venue=VENUE,
            market=market,
            ts_event_ns=ts_recv_ns,  # a snapshot carries no venue time
            ts_recv_ns=ts_recv_ns,
            seq=message.seq,
            bids=bids,
            asks=asks,
        )
        mark = DataMark(
            kind="orderbook_snapshot",
            sid=message.sid,
            seq=message.seq,
            market=market,
            id=message.id,
        )
        return ParseResult(events=[event], control=mark)

    def _delta(self, message: OrderbookDeltaMsg, ts_recv_ns: int) -> ParseResult:
        body = message.msg
        price = _price(body.price_dollars, body.price, "price_dollars", "price")
        if price is None:
            raise WireValueError("price_dollars", "missing (and no legacy 'price')")
        if body.delta_fp is not None:
            increment = decimal_text(body.delta_fp, "delta_fp")
        elif body.delta is not None:
            increment = str(body.delta)
        else:
            raise WireValueError("delta_fp", "missing (and no legacy 'delta')")
        ticker = body.market_ticker
        change, issue = self.books.delta(ticker, body.side, price, increment)
        market = self.market(ticker)
        event = BookDelta(
            venue=VENUE,
            market=market,
            ts_event_ns=_event_ns(body.ts_ms, body.ts, ts_recv_ns),
            ts_recv_ns=ts_recv_ns,
            seq=message.seq,
            changes=[change],
        )
        mark = DataMark(
            kind="orderbook_delta", sid=message.sid, seq=message.seq, market=market, issue=issue
        )
        return ParseResult(events=[event], control=mark)

    # -- ticker and trades -----------------------------------------------------------------
    def _ticker(self, message: TickerMsg, ts_recv_ns: int) -> ParseResult:
        body = message.msg
        bid = _price(body.yes_bid_dollars, body.yes_bid, "yes_bid_dollars", "yes_bid")
        ask = _price(body.yes_ask_dollars, body.yes_ask, "yes_ask_dollars", "yes_ask")
        bid_size = _opt_size(body.yes_bid_size_fp, "yes_bid_size_fp")
        ask_size = _opt_size(body.yes_ask_size_fp, "yes_ask_size_fp")
        # Kalshi prints an empty side as a YES bid of 0 / a YES ask of 1: no quote there.
        if bid == "0":
            bid = bid_size = None
        if ask == "1":
            ask = ask_size = None
        market = self.market(body.market_ticker)
        event = Quote(
            venue=VENUE,
            market=market,
            ts_event_ns=_event_ns(body.ts_ms, body.ts, ts_recv_ns),
            ts_recv_ns=ts_recv_ns,
            seq=message.seq,
            bid_price=bid,
            bid_size=bid_size,
            ask_price=ask,
            ask_size=ask_size,
            last_price=_price(body.price_dollars, body.price, "price_dollars", "price"),
        )
        mark = DataMark(kind="ticker", sid=message.sid, seq=message.seq, market=market)
        return ParseResult(events=[event], control=mark)

    def _trade(self, message: TradeMsg, ts_recv_ns: int) -> ParseResult:
        body = message.msg
        price = _price(body.yes_price_dollars, body.yes_price, "yes_price_dollars", "yes_price")
        if price is None:
            raise WireValueError("yes_price_dollars", "missing (and no legacy 'yes_price')")
        if body.count_fp is not None:
            size = size_text(body.count_fp, "count_fp")
        elif body.count is not None:
            size = count_text(body.count, "count")
        else:
            raise WireValueError("count_fp", "missing (and no legacy 'count')")
        outcome = body.taker_outcome_side
        if outcome is None and body.taker_book_side is not None:
            outcome = "yes" if body.taker_book_side == "bid" else "no"
        if outcome is None:
            outcome = body.taker_side
        market = self.market(body.market_ticker)
        event = Trade(
            venue=VENUE,
            market=market,
            ts_event_ns=_event_ns(body.ts_ms, body.ts, ts_recv_ns),
            ts_recv_ns=ts_recv_ns,
            seq=message.seq,
            price=price,
            size=size,
            side=None if outcome is None else ("buy" if outcome == "yes" else "sell"),
            trade_id=body.trade_id,
        )
        mark = DataMark(kind="trade", sid=message.sid, seq=message.seq, market=market)
        return ParseResult(events=[event], control=mark)

    # -- lifecycle and the rest ------------------------------------------------------------
    def _lifecycle(self, message: MarketLifecycleMsg, ts_recv_ns: int) -> ParseResult:
        body = message.msg
        market = self.market(body.market_ticker)
        status, result, ts_event_s = _lifecycle_status(body, ts_recv_ns)
        mark = DataMark(
            kind="market_lifecycle_v2",
            sid=message.sid,
            seq=message.seq,
            market=market,
            status=status,
            detail=body,
        )
        if status is None:
            return ParseResult(events=[], control=mark)
        if status == "determined" and result is not None:
            self._results[body.market_ticker] = result
        if status == "settled":  # the market leaves every subscription
            self.books.drop((body.market_ticker,))
            # `settled` carries no result; it is the one `determined` announced.
            remembered = self._results.pop(body.market_ticker, None)
            result = result or remembered
        event = MarketStatus(
            venue=VENUE,
            market=market,
            ts_event_ns=ts_recv_ns if ts_event_s is None else ts_event_s * NS_PER_S,
            ts_recv_ns=ts_recv_ns,
            seq=message.seq,
            status=status,
            result=result,
        )
        return ParseResult(events=[event], control=mark)

    def _detail(
        self,
        message: EventLifecycleMsg | EventFeeUpdateMsg | FillMsg | MarketPositionMsg,
        ts_recv_ns: int,  # noqa: ARG002
    ) -> ParseResult:
        body = message.msg
        ticker = getattr(body, "market_ticker", None)  # fills and positions: one market each
        mark = DataMark(
            kind=str(type(message).__struct_config__.tag),
            sid=message.sid,
            seq=message.seq,
            market=None if ticker is None else self.market(ticker),
            detail=body,
        )
        return ParseResult(events=[], control=mark)

    def _reply(self, message: ReplyMessage, ts_recv_ns: int) -> ParseResult:  # noqa: ARG002
        return ParseResult(events=[], control=reply_control(message))


def reply_control(message: ReplyMessage) -> Reply | ErrorReply:
    """The control struct of a command reply."""
    if isinstance(message, ErrorMsg):
        error = message.msg
        tickers = list(error.market_tickers or ())
        if error.market_ticker is not None:
            tickers.append(error.market_ticker)
        return ErrorReply(
            id=message.id,
            sid=message.sid,
            seq=message.seq,
            code=error.code,
            msg=error.msg,
            code_text=config.ERROR_CODES.get(error.code, f"unknown error code {error.code}"),
            market_tickers=tickers,
            terminal=error.code in config.TERMINAL_ERRORS,
        )
    if isinstance(message, SubscribedMsg):
        return Reply(
            kind="subscribed", id=message.id, sid=message.msg.sid, channel=message.msg.channel
        )
    if isinstance(message, UnsubscribedMsg):
        return Reply(kind="unsubscribed", id=message.id, sid=message.sid, seq=message.seq)
    body = message.msg
    if isinstance(body, list):
        return Reply(
            kind="list_subscriptions",
            id=message.id,
            sid=message.sid,
            seq=message.seq,
            subscriptions=body,
        )
    return Reply(
        kind="ok",
        id=message.id,
        sid=message.sid,
        seq=message.seq,
        market_tickers=None if body is None else body.market_tickers,
    )


def _lifecycle_status(
    body: MarketLifecycleBody, ts_recv_ns: int
) -> tuple[Status | None, str | None, int | None]:
    """(new canonical status or None, result, venue time in s or None) of a lifecycle body.

    created, metadata_updated, price_level_structure_updated (and types added later) change
    no status; a close date still in the future only reschedules the close.
    """
    event_type = body.event_type
    status: Status | None = None
    result: str | None = None
    ts_s: int | None = None
    if event_type == "activated":
        status = "open"
    elif event_type == "deactivated":  # is_deactivated false: unpaused
        status = "open" if body.is_deactivated is False else "paused"
    elif event_type == "close_date_updated":
        close_ts = body.close_ts
        if close_ts is not None and close_ts * NS_PER_S <= ts_recv_ns:
            status, ts_s = "closed", close_ts
    elif event_type == "determined":
        status, result, ts_s = "determined", body.result or None, body.determination_ts
    elif event_type == "settled":
        status, result, ts_s = "settled", body.result or None, body.settled_ts
    return status, result, ts_s


def _opt_size(text: str | None, field: str) -> str | None:
    return None if text is None else size_text(text, field)


def _not_decoded(frame: bytes | str, error: Exception) -> ParseResult:
    """A frame the server-message union refused: unknown type, or malformed."""
    raw = _as_bytes(frame)
    try:
        header = _HEADER_DECODER.decode(frame)
    except msgspec.ValidationError as exc:  # a subclass of DecodeError: first
        raise MalformedFrame(raw, f"not a Kalshi frame: {exc}") from None
    except msgspec.DecodeError as exc:
        raise MalformedFrame(raw, f"not JSON: {exc}") from None
    kind = header.type
    if kind is None:
        raise MalformedFrame(raw, "no 'type' field")
    if kind in SERVER_TYPES:
        raise MalformedFrame(raw, f"invalid {kind!r} message: {error}")
    unknown = UnknownMessage(type=kind, sid=_int_or_none(header.sid), seq=_int_or_none(header.seq))
    return ParseResult(events=[], control=unknown)


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _as_bytes(frame: bytes | str) -> bytes:
    return frame.encode() if isinstance(frame, str) else bytes(frame)
