"""The one place where Kraken Futures WebSocket frames become canonical events.

`KrakenFuturesParser.parse(frame, ts_recv_ns)` decodes a frame and returns a `ParseResult`:

* data (``book_snapshot``, ``book``, ``trade_snapshot``, ``trade``, ``ticker``,
  ``ticker_lite``) -> canonical events: BookSnapshot (bids best first = descending price,
  asks ascending, zero sizes dropped), BookDelta (``buy`` -> bid, ``sell`` -> ask, with the
  venue's per-product ``seq``), Trade (one per trade of a snapshot, oldest first), Quote,
  and FundingRate when a perpetual's ticker carries funding fields;
* control (``info``, ``subscribed``..., ``error``, ``alert``, ``challenge``, ``heartbeat``)
  -> ``control`` holds the wire struct, no events;
* well-formed frames of feeds this parser does not turn into market data (private feeds,
  unknown feeds or events) -> ``unsupported=True``, no events;
* anything else (not JSON, not an object, a known feed with missing or mistyped fields,
  a number that is not a number) -> `MalformedFrame`.

Speed: data frames are decoded in one pass by a union tagged by ``feed``; only frames that
fail it (control messages, rarities, garbage) pay for a second, header-only decode. Number
texts are converted through a bounded cache (see `ssmd.venues.numbers`), market ids through
a per-parser cache. Canonical market id: ``kraken_futures:<PRODUCT_ID>`` (upper case, as the
venue sends it; the venue treats product ids case-insensitively).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

import msgspec

from ssmd.contracts.events import (
    BookDelta,
    BookSnapshot,
    FundingRate,
    LevelChange,
    MarketEvent,
    PriceLevel,
    Quote,
    Trade,
)
from ssmd.contracts.symbols import market_id
from ssmd.venues.errors import MalformedFrame
from ssmd.venues.kraken_futures import config
from ssmd.venues.kraken_futures.wire import (
    BookLevel,
    BookMsg,
    BookSnapshotMsg,
    ControlMessage,
    DataMessage,
    FrameHeader,
    HeartbeatMsg,
    TickerLiteMsg,
    TickerMsg,
    TradeMsg,
    TradeSnapshotMsg,
)
from ssmd.venues.numbers import number_text

VENUE: Final = config.VENUE
_NS_PER_MS: Final = config.NS_PER_MS
_DATA_DECODER: Final = msgspec.json.Decoder(DataMessage)
_HEADER_DECODER: Final = msgspec.json.Decoder(FrameHeader)
_CONTROL_DECODER: Final = msgspec.json.Decoder(ControlMessage)
_MARKET_CACHE_MAX: Final = 1 << 16

Control = ControlMessage | HeartbeatMsg
"""What a control frame decodes to."""


class ParseResult(msgspec.Struct, frozen=True, kw_only=True):
    """What one frame meant: events, or a control message, or nothing we use."""

    events: list[MarketEvent]
    control: Control | None = None
    product_id: str | None = None
    feed: str | None = None
    unsupported: bool = False
    """A well-formed frame of a feed or event this parser does not use (private feeds)."""


class _BadNumber(Exception):  # noqa: N818 - internal signal, becomes MalformedFrame
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")


def _num(raw: msgspec.Raw, field: str) -> str:
    try:
        return number_text(bytes(raw))
    except ValueError as exc:
        raise _BadNumber(field, str(exc)) from None


def _size(raw: msgspec.Raw, field: str) -> str:
    text = _num(raw, field)
    if text[0] == "-":
        raise _BadNumber(field, f"negative size {text}")
    return text


def _opt_num(raw: msgspec.Raw, field: str) -> str | None:
    data = bytes(raw)
    if data == b"null":
        return None
    try:
        return number_text(data)
    except ValueError as exc:
        raise _BadNumber(field, str(exc)) from None


def _opt_size(raw: msgspec.Raw, field: str) -> str | None:
    text = _opt_num(raw, field)
    if text is not None and text[0] == "-":
        raise _BadNumber(field, f"negative size {text}")
    return text


class KrakenFuturesParser:
    """Parses Kraken Futures WebSocket v1 frames into canonical events; see module doc.

    One parser per connection or per process; it keeps only a cache of market ids.
    """

    def __init__(self) -> None:
        self._markets: dict[str, str] = {}
        self._handlers: dict[type, Callable[[Any, int], ParseResult]] = {
            BookMsg: self._book,
            BookSnapshotMsg: self._book_snapshot,
            TradeMsg: self._trade,
            TradeSnapshotMsg: self._trade_snapshot,
            TickerMsg: self._ticker,
            TickerLiteMsg: self._ticker_lite,
            HeartbeatMsg: self._heartbeat,
        }

    def market(self, product_id: str) -> str:
        """The canonical market id of a product id."""
        found = self._markets.get(product_id)
        if found is None:
            if len(self._markets) >= _MARKET_CACHE_MAX:
                self._markets.clear()
            found = market_id(VENUE, product_id.upper())
            self._markets[product_id] = found
        return found

    def parse(self, frame: bytes | str, ts_recv_ns: int) -> ParseResult:
        """Decode one frame received at `ts_recv_ns`; raise `MalformedFrame` if it is bad."""
        try:
            message = _DATA_DECODER.decode(frame)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            return self._not_data(frame, exc)
        try:
            return self._handlers[type(message)](message, ts_recv_ns)
        except _BadNumber as exc:
            raise MalformedFrame(_as_bytes(frame), str(exc)) from None

    # -- data -------------------------------------------------------------------------
    def _book(self, msg: BookMsg, ts_recv_ns: int) -> ParseResult:
        change = LevelChange(
            side="bid" if msg.side == "buy" else "ask",
            price=_num(msg.price, "price"),
            size=_size(msg.qty, "qty"),
        )
        event = BookDelta(
            venue=VENUE,
            market=self.market(msg.product_id),
            ts_event_ns=msg.timestamp * _NS_PER_MS,
            ts_recv_ns=ts_recv_ns,
            seq=msg.seq,
            changes=[change],
        )
        return ParseResult(events=[event], product_id=msg.product_id, feed="book")

    def _book_snapshot(self, msg: BookSnapshotMsg, ts_recv_ns: int) -> ParseResult:
        event = BookSnapshot(
            venue=VENUE,
            market=self.market(msg.product_id),
            ts_event_ns=msg.timestamp * _NS_PER_MS,
            ts_recv_ns=ts_recv_ns,
            seq=msg.seq,
            bids=_levels(msg.bids, descending=True),
            asks=_levels(msg.asks, descending=False),
        )
        return ParseResult(events=[event], product_id=msg.product_id, feed="book_snapshot")

    def _trade_event(self, msg: TradeMsg, ts_recv_ns: int) -> Trade:
        return Trade(
            venue=VENUE,
            market=self.market(msg.product_id),
            ts_event_ns=msg.time * _NS_PER_MS,
            ts_recv_ns=ts_recv_ns,
            seq=msg.seq,
            price=_num(msg.price, "price"),
            size=_size(msg.qty, "qty"),
            side=msg.side,
            trade_id=msg.uid,
        )

    def _trade(self, msg: TradeMsg, ts_recv_ns: int) -> ParseResult:
        event = self._trade_event(msg, ts_recv_ns)
        return ParseResult(events=[event], product_id=msg.product_id, feed="trade")

    def _trade_snapshot(self, msg: TradeSnapshotMsg, ts_recv_ns: int) -> ParseResult:
        # The venue lists newest first; events go out oldest first, in venue sequence.
        trades = sorted(msg.trades, key=lambda trade: trade.seq)
        events: list[MarketEvent] = [self._trade_event(t, ts_recv_ns) for t in trades]
        return ParseResult(events=events, product_id=msg.product_id, feed="trade_snapshot")

    def _ticker(self, msg: TickerMsg, ts_recv_ns: int) -> ParseResult:
        market = self.market(msg.product_id)
        ts_event_ns = msg.time * _NS_PER_MS
        events: list[MarketEvent] = [
            Quote(
                venue=VENUE,
                market=market,
                ts_event_ns=ts_event_ns,
                ts_recv_ns=ts_recv_ns,
                bid_price=_opt_num(msg.bid, "bid"),
                bid_size=_opt_size(msg.bid_size, "bid_size"),
                ask_price=_opt_num(msg.ask, "ask"),
                ask_size=_opt_size(msg.ask_size, "ask_size"),
                last_price=_opt_num(msg.last, "last"),
            )
        ]
        rate = _opt_num(msg.funding_rate, "funding_rate")
        if rate is not None:
            next_ms = msg.next_funding_rate_time
            events.append(
                FundingRate(
                    venue=VENUE,
                    market=market,
                    ts_event_ns=ts_event_ns,
                    ts_recv_ns=ts_recv_ns,
                    rate=rate,
                    relative_rate=_opt_num(msg.relative_funding_rate, "relative_funding_rate"),
                    next_funding_ts_ns=None if next_ms is None else next_ms * _NS_PER_MS,
                )
            )
        return ParseResult(events=events, product_id=msg.product_id, feed="ticker")

    def _ticker_lite(self, msg: TickerLiteMsg, ts_recv_ns: int) -> ParseResult:
        # ticker_lite has no venue time: the receive time is the best there is.
        event = Quote(
            venue=VENUE,
            market=self.market(msg.product_id),
            ts_event_ns=ts_recv_ns,
            ts_recv_ns=ts_recv_ns,
            bid_price=_opt_num(msg.bid, "bid"),
            ask_price=_opt_num(msg.ask, "ask"),
        )
        return ParseResult(events=[event], product_id=msg.product_id, feed="ticker_lite")

    def _heartbeat(self, msg: HeartbeatMsg, ts_recv_ns: int) -> ParseResult:  # noqa: ARG002
        return ParseResult(events=[], control=msg, feed="heartbeat")

    # -- everything that is not a data message --------------------------------------------
    def _not_data(self, frame: bytes | str, data_error: Exception) -> ParseResult:
        raw = _as_bytes(frame)
        try:
            header = _HEADER_DECODER.decode(frame)
        except msgspec.ValidationError as exc:  # a subclass of DecodeError: first
            raise MalformedFrame(raw, f"not a Kraken Futures message: {exc}") from None
        except msgspec.DecodeError as exc:
            raise MalformedFrame(raw, f"not JSON: {exc}") from None
        if header.event is not None:
            try:
                control = _CONTROL_DECODER.decode(frame)
            except msgspec.ValidationError as exc:
                if header.event in config.CONTROL_EVENTS:
                    raise MalformedFrame(raw, f"invalid {header.event!r} event: {exc}") from None
                return ParseResult(events=[], feed=header.feed, unsupported=True)
            product_ids = getattr(control, "product_ids", None)
            return ParseResult(
                events=[],
                control=control,
                feed=header.feed,
                product_id=product_ids[0] if product_ids and len(product_ids) == 1 else None,
            )
        if header.feed is None:
            raise MalformedFrame(raw, "neither 'feed' nor 'event'")
        if header.feed in config.DATA_FEEDS:
            raise MalformedFrame(raw, f"invalid {header.feed!r} message: {data_error}")
        return ParseResult(events=[], feed=header.feed, unsupported=True)


def _levels(levels: list[BookLevel], *, descending: bool) -> list[PriceLevel]:
    kept = [
        (price, size)
        for price, size in (
            (_num(level.price, "price"), _size(level.qty, "qty")) for level in levels
        )
        if size != "0"
    ]
    kept.sort(key=lambda pair: Decimal(pair[0]), reverse=descending)
    return [PriceLevel(price, size) for price, size in kept]


def _as_bytes(frame: bytes | str) -> bytes:
    return frame.encode() if isinstance(frame, str) else bytes(frame)
