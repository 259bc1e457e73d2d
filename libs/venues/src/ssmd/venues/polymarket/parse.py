"""The one place where Polymarket market-channel frames become canonical events.

`PolymarketParser(index).parse(frame, ts_recv_ns)` returns a `ParseResult`: ``events`` and
``control`` (None, or a `ControlBatch` of the control entries defined here).

A canonical market is one binary market (``polymarket:<condition_id>``) and its canonical
book is the YES token's: prices are probabilities of YES. The NO token's book is the mirror
of the same order book (BUY NO at q = SELL YES at 1 - q), so:

* ``book`` -> BookSnapshot (bids descending, asks ascending, zero sizes dropped; the venue
  prints bids ascending and asks descending) for the YES token; for the NO token no event,
  a `MirroredLegSkipped` control entry;
* ``price_change`` (new ``price_changes[]`` format and both old formats) -> one BookDelta per
  market per frame with the YES token's changes in venue order (BUY -> bid, SELL -> ask,
  size is the new absolute level size); NO-token entries are counted in `MirroredLegSkipped`;
* ``last_trade_price`` -> Trade; on the NO token at 1 - price with the side flipped.
  ``trade_id`` is ``transaction_hash``, or when absent the first 32 hex digits of SHA-256
  over ``asset_id|timestamp|price|size|side`` (the wire texts as sent), so a re-received
  message gets the same id;
* ``best_bid_ask`` -> Quote; on the NO token mirrored (bid = 1 - NO ask, ask = 1 - NO bid).
  ``"0"`` as best bid and ``"1"`` as best ask mean an empty side (PM-DOCS example);
* ``tick_size_change`` -> `TickSizeChange`; ``new_market`` -> `NewMarket` (the index is not
  changed: the connector decides); ``market_resolved`` -> MarketStatus(settled, result =
  winning outcome) and `Resolved`.

Gap detection (the venue has no sequence numbers): the parser keeps the YES book of each
market (`_LocalBook`), replaced by ``book`` and updated by ``price_change``. After a frame's
changes are applied, the ``best_bid``/``best_ask`` of the last new-format entry of the YES
token are compared with the local book; a difference is a `BookMismatch` (the connector
publishes a Gap and resubscribes for a fresh ``book``). Comparing only after the frame's
last entry is right whether the venue's values describe the book after each entry or after
the whole frame. A ``price_change`` before any ``book`` is still emitted, with `NoBook`.

Tokens not in the index give no events, an `UnknownAsset`. Unknown ``event_type``s give
`UnknownEvent`, user-channel ones (``order``, ``trade``) `UnsupportedEvent`. Bad input (not
JSON, no ``event_type``, a missing or mistyped field, a number that is not a decimal, a price
outside [0, 1]) raises `MalformedFrame`; the local books of markets the frame touched are
then dropped, so a half-applied array frame can never leave a silently wrong book.

Speed: one msgspec decode of the whole frame (a union tagged by ``event_type``, or an array
of it); number texts become canonical through the bounded caches of `wire`; prices are
never Decimal here, NO-leg complements are integer arithmetic, cached. The local book is
keyed by canonical price TEXT, not by Decimal as `ssmd.venues.book.OrderBook` is: texts of
[0, 1] prices sort as the numbers do, so replacing a 100-level book is a dict build instead
of 400 Decimal conversions (measured with OrderBook: ``book`` frames of 100 levels ~5x and
``price_change`` frames ~2x slower). `local_book` hands out an `OrderBook` copy; the
property tests check it against a Decimal reference book.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, Final, TypeVar

import msgspec

from ssmd.contracts.events import (
    BookDelta,
    BookSide,
    BookSnapshot,
    LevelChange,
    MarketEvent,
    MarketStatus,
    PriceLevel,
    Quote,
    Side,
    Trade,
)
from ssmd.contracts.symbols import market_id
from ssmd.venues.book import OrderBook
from ssmd.venues.errors import MalformedFrame
from ssmd.venues.polymarket import config
from ssmd.venues.polymarket.tokens import (
    MarketTokens,
    TokenIndex,
    binary_tokens,
    normalize_condition_id,
)
from ssmd.venues.polymarket.wire import (
    BadValue,
    BestBidAskMsg,
    BookMsg,
    EventHeader,
    LastTradePriceMsg,
    MarketFrame,
    MarketMessage,
    MarketResolvedMsg,
    NewMarketMsg,
    PriceChangeMsg,
    TickSizeChangeMsg,
    best_ask_text,
    best_bid_text,
    complement,
    mirror_top,
    price_text,
    size_text,
    sorted_levels,
    timestamp_ns,
)

VENUE: Final = config.VENUE
_FRAME_DECODER: Final = msgspec.json.Decoder(MarketFrame)
_MESSAGE_DECODER: Final = msgspec.json.Decoder(MarketMessage)
_ITEMS_DECODER: Final = msgspec.json.Decoder(list[msgspec.Raw] | dict[str, msgspec.Raw])
_HEADER_DECODER: Final = msgspec.json.Decoder(EventHeader)
_SIDE: Final[dict[str, Side]] = {"BUY": "buy", "SELL": "sell"}
_FLIPPED: Final[dict[str, Side]] = {"BUY": "sell", "SELL": "buy"}
_BOOK_SIDE: Final[dict[str, BookSide]] = {"BUY": "bid", "SELL": "ask"}
_MARKET_CACHE_MAX: Final = 1 << 17
C = TypeVar("C")


# -- control entries ------------------------------------------------------------------------
class KeepAlive(msgspec.Struct, frozen=True):
    """The bare text ``PONG`` (answer to ``PING``) or ``NO NEW ASSETS``."""

    text: str


class UnknownEvent(msgspec.Struct, frozen=True):
    """A message whose ``event_type`` this parser does not know (tolerated, counted)."""

    event_type: str


class UnsupportedEvent(msgspec.Struct, frozen=True):
    """A user-channel message (``order``, ``trade``): not market data, not parsed here."""

    event_type: str


class UnknownAsset(msgspec.Struct, frozen=True):
    """A message for a token (or a market) that is not in the index: no events."""

    asset_id: str
    event_type: str


class MirroredLegSkipped(msgspec.Struct, frozen=True):
    """NO-token book data (`entries` ``book`` or ``price_change`` entries) not turned into
    events: the YES book already carries it (the NO book is its mirror)."""

    market: str
    asset_id: str
    event_type: str
    entries: int


class NoBook(msgspec.Struct, frozen=True):
    """A ``price_change`` for a market whose ``book`` has not arrived (deltas still emitted)."""

    market: str


class BookMismatch(msgspec.Struct, frozen=True):
    """The venue's best bid/ask differ from the local YES book: data was lost.

    Prices are canonical texts; None is an empty side.
    """

    market: str
    asset_id: str
    venue_best_bid: str | None
    venue_best_ask: str | None
    local_best_bid: str | None
    local_best_ask: str | None


class TickSizeChange(msgspec.Struct, frozen=True, kw_only=True):
    """A token's minimum price increment changed (same for both tokens of a market)."""

    market: str
    asset_id: str
    old_tick_size: str
    new_tick_size: str
    ts_event_ns: int


class NewMarket(msgspec.Struct, frozen=True, kw_only=True):
    """A ``new_market`` message; `tokens` is None if it is not a binary market.

    The raw ``assets_ids``/``outcomes`` are kept so nothing of a non-binary market is lost.
    """

    tokens: MarketTokens | None
    condition_id: str
    question: str | None
    slug: str | None
    assets_ids: tuple[str, ...]
    outcomes: tuple[str, ...]
    tick_size: str | None
    ts_event_ns: int


class Resolved(msgspec.Struct, frozen=True):
    """A market was resolved; its MarketStatus(settled) event is in the same result."""

    market: str
    winning_asset_id: str
    winning_outcome: str


ControlEntry = (
    KeepAlive
    | UnknownEvent
    | UnsupportedEvent
    | UnknownAsset
    | MirroredLegSkipped
    | NoBook
    | BookMismatch
    | TickSizeChange
    | NewMarket
    | Resolved
)


class ControlBatch(msgspec.Struct, frozen=True):
    """The control entries of one frame, in frame order."""

    entries: tuple[ControlEntry, ...]

    def of_type(self, kind: type[C]) -> list[C]:
        """The entries of one kind, e.g. ``batch.of_type(BookMismatch)``."""
        return [entry for entry in self.entries if isinstance(entry, kind)]


_KEEPALIVE: Final = {
    config.PONG: ControlBatch((KeepAlive(config.PONG.decode()),)),
    config.NO_NEW_ASSETS: ControlBatch((KeepAlive(config.NO_NEW_ASSETS.decode()),)),
}


class ParseResult(msgspec.Struct, frozen=True, kw_only=True):
    """What one frame meant: events, and control entries when there is anything to act on."""

    events: list[MarketEvent]
    control: ControlBatch | None = None


class _BookSide:
    """One side of a local book: price text -> size text, and the best price, lazily."""

    __slots__ = ("best", "is_bid", "levels", "stale")

    def __init__(self, *, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.levels: dict[str, str] = {}
        self.best: str | None = None
        self.stale = False  # True: `best` was removed, recompute on the next read

    def replace(self, levels: list[PriceLevel]) -> None:
        """Levels best first, as `sorted_levels` gives them."""
        self.levels = {level.price: level.size for level in levels}
        self.best = levels[0].price if levels else None
        self.stale = False

    def set(self, price: str, size: str) -> None:
        if size == "0":
            if self.levels.pop(price, None) is not None and price == self.best:
                self.stale = True
            return
        self.levels[price] = size
        best = self.best
        if not self.stale and (best is None or (price > best if self.is_bid else price < best)):
            self.best = price

    def top(self) -> str | None:
        if self.stale:
            levels = self.levels
            self.best = (max(levels) if self.is_bid else min(levels)) if levels else None
            self.stale = False
        return self.best


class _LocalBook:
    """A market's YES book as canonical texts; see module doc (Speed)."""

    __slots__ = ("asks", "bids")

    def __init__(self) -> None:
        self.bids = _BookSide(is_bid=True)
        self.asks = _BookSide(is_bid=False)

    def apply(self, changes: list[LevelChange]) -> None:
        for change in changes:
            (self.bids if change.side == "bid" else self.asks).set(change.price, change.size)


class _Out:
    """What the handlers of one frame produce, and the books they changed."""

    __slots__ = ("controls", "events", "touched")

    def __init__(self) -> None:
        self.events: list[MarketEvent] = []
        self.controls: list[ControlEntry] = []
        self.touched: set[str] = set()


class PolymarketParser:
    """Parses market-channel frames into canonical events; see module doc.

    Reads `index` live (the connector adds and removes markets while frames flow). Keeps
    the YES book of every market it saw a ``book`` for, to detect lost ``price_change``s.
    """

    def __init__(self, index: TokenIndex) -> None:
        self.index = index
        self._books: dict[str, _LocalBook] = {}
        self._market_ids: dict[str, str] = {}  # condition id -> canonical market id
        self._handlers: dict[type, Callable[[Any, int, _Out], None]] = {
            BookMsg: self._book,
            PriceChangeMsg: self._price_change,
            LastTradePriceMsg: self._last_trade_price,
            BestBidAskMsg: self._best_bid_ask,
            TickSizeChangeMsg: self._tick_size_change,
            NewMarketMsg: self._new_market,
            MarketResolvedMsg: self._market_resolved,
        }

    def local_book(self, condition_id: str) -> OrderBook | None:
        """A copy of the parser's YES book of a market, or None before its first ``book``."""
        local = self._books.get(condition_id)
        if local is None:
            return None
        book = OrderBook(market_id(VENUE, condition_id))
        book.apply_snapshot(local.bids.levels.items(), local.asks.levels.items())
        return book

    def forget(self, condition_id: str) -> None:
        """Drop a market's local book (after unsubscribing, or before resubscribing)."""
        self._books.pop(condition_id, None)

    def _market(self, tokens: MarketTokens) -> str:
        market = self._market_ids.get(tokens.condition_id)
        if market is None:
            if len(self._market_ids) >= _MARKET_CACHE_MAX:
                self._market_ids.clear()
            market = self._market_ids[tokens.condition_id] = tokens.market
        return market

    def parse(self, frame: bytes | str, ts_recv_ns: int) -> ParseResult:
        """Decode one frame received at `ts_recv_ns`; raise `MalformedFrame` if it is bad."""
        raw = frame.encode() if isinstance(frame, str) else frame
        keepalive = _KEEPALIVE.get(raw)
        if keepalive is not None:
            return ParseResult(events=[], control=keepalive)
        out = _Out()
        try:
            try:
                decoded = _FRAME_DECODER.decode(raw)
            except msgspec.ValidationError:
                self._one_by_one(raw, ts_recv_ns, out)
            else:
                handlers = self._handlers
                if type(decoded) is list:
                    for message in decoded:
                        handlers[type(message)](message, ts_recv_ns, out)
                else:
                    handlers[type(decoded)](decoded, ts_recv_ns, out)
        except msgspec.DecodeError as exc:
            raise MalformedFrame(bytes(raw), f"not JSON: {exc}") from None
        except BadValue as exc:
            for condition_id in out.touched:
                self._books.pop(condition_id, None)
            raise MalformedFrame(bytes(raw), str(exc)) from None
        controls = out.controls
        return ParseResult(
            events=out.events, control=ControlBatch(tuple(controls)) if controls else None
        )

    def _one_by_one(self, raw: bytes, ts_recv_ns: int, out: _Out) -> None:
        """The slow path: a frame the tagged union refused, read message by message."""
        try:
            items = _ITEMS_DECODER.decode(raw)  # a DecodeError here means: not JSON
        except msgspec.ValidationError:
            raise BadValue("frame", "neither a JSON object nor an array") from None
        for item in items if isinstance(items, list) else [raw]:
            try:
                event_type = _HEADER_DECODER.decode(item).event_type
            except msgspec.ValidationError as exc:
                raise BadValue("frame", f"not an event object: {exc}") from None
            if event_type is None:
                raise BadValue("event_type", "missing")
            if event_type in config.MARKET_EVENT_TYPES:
                try:
                    message = _MESSAGE_DECODER.decode(item)
                except msgspec.ValidationError as exc:
                    raise BadValue(event_type, f"invalid message: {exc}") from None
                self._handlers[type(message)](message, ts_recv_ns, out)
            elif event_type in config.USER_EVENT_TYPES:
                out.controls.append(UnsupportedEvent(event_type))
            else:
                out.controls.append(UnknownEvent(event_type))

    # -- handlers ------------------------------------------------------------------------
    def _book(self, msg: BookMsg, ts_recv_ns: int, out: _Out) -> None:
        found = self.index.lookup(msg.asset_id)
        if found is None:
            out.controls.append(UnknownAsset(msg.asset_id, config.BOOK))
            return
        tokens, is_yes = found
        if not is_yes:
            out.controls.append(
                MirroredLegSkipped(self._market(tokens), msg.asset_id, config.BOOK, 1)
            )
            return
        bids = sorted_levels(msg.bids, "bids", descending=True)
        asks = sorted_levels(msg.asks, "asks", descending=False)
        ts_event_ns = timestamp_ns(msg.timestamp)
        condition_id = tokens.condition_id
        out.touched.add(condition_id)
        book = self._books.get(condition_id)
        if book is None:
            book = self._books[condition_id] = _LocalBook()
        book.bids.replace(bids)
        book.asks.replace(asks)
        out.events.append(
            BookSnapshot(
                venue=VENUE,
                market=self._market(tokens),
                ts_event_ns=ts_event_ns,
                ts_recv_ns=ts_recv_ns,
                bids=bids,
                asks=asks,
            )
        )

    def _price_change(self, msg: PriceChangeMsg, ts_recv_ns: int, out: _Out) -> None:
        ts_event_ns = timestamp_ns(msg.timestamp)
        # Validate every entry first, change the books after: a bad entry changes nothing.
        per_market: dict[str, tuple[MarketTokens, list[LevelChange]]] = {}
        venue_top: dict[str, tuple[str | None, str | None] | None] = {}
        skipped: dict[str, tuple[MarketTokens, int]] = {}
        unknown: dict[str, None] = {}
        lookup = self.index.lookup
        for entry in msg.entries():
            asset_id = entry.asset_id
            found = lookup(asset_id)
            if found is None:
                unknown[asset_id] = None
                continue
            tokens, is_yes = found
            if not is_yes:
                skipped[asset_id] = (tokens, skipped[asset_id][1] + 1 if asset_id in skipped else 1)
                continue
            condition_id = tokens.condition_id
            group = per_market.get(condition_id)
            if group is None:
                group = per_market[condition_id] = (tokens, [])
            group[1].append(
                LevelChange(
                    side=_BOOK_SIDE[entry.side],
                    price=price_text(entry.price),
                    size=size_text(entry.size),
                )
            )
            best_bid, best_ask = entry.best_bid, entry.best_ask
            venue_top[condition_id] = (
                None
                if best_bid is None or best_ask is None
                else (best_bid_text(best_bid), best_ask_text(best_ask))
            )
        controls = out.controls
        if unknown:
            controls.extend(UnknownAsset(asset_id, config.PRICE_CHANGE) for asset_id in unknown)
        for asset_id, (tokens, count) in skipped.items():
            controls.append(
                MirroredLegSkipped(self._market(tokens), asset_id, config.PRICE_CHANGE, count)
            )
        for condition_id, (tokens, changes) in per_market.items():
            market = self._market(tokens)
            out.events.append(
                BookDelta(
                    venue=VENUE,
                    market=market,
                    ts_event_ns=ts_event_ns,
                    ts_recv_ns=ts_recv_ns,
                    changes=changes,
                )
            )
            book = self._books.get(condition_id)
            if book is None:
                controls.append(NoBook(market))
                continue
            out.touched.add(condition_id)
            book.apply(changes)
            top = venue_top[condition_id]
            if top is not None:
                local = (book.bids.top(), book.asks.top())
                if top != local:
                    controls.append(BookMismatch(market, tokens.yes_token_id, *top, *local))

    def _last_trade_price(self, msg: LastTradePriceMsg, ts_recv_ns: int, out: _Out) -> None:
        found = self.index.lookup(msg.asset_id)
        if found is None:
            out.controls.append(UnknownAsset(msg.asset_id, config.LAST_TRADE_PRICE))
            return
        tokens, is_yes = found
        price = price_text(msg.price)
        out.events.append(
            Trade(
                venue=VENUE,
                market=self._market(tokens),
                ts_event_ns=timestamp_ns(msg.timestamp),
                ts_recv_ns=ts_recv_ns,
                price=price if is_yes else complement(price),
                size=size_text(msg.size),
                side=_SIDE[msg.side] if is_yes else _FLIPPED[msg.side],
                trade_id=msg.transaction_hash or derived_trade_id(msg),
            )
        )

    def _best_bid_ask(self, msg: BestBidAskMsg, ts_recv_ns: int, out: _Out) -> None:
        found = self.index.lookup(msg.asset_id)
        if found is None:
            out.controls.append(UnknownAsset(msg.asset_id, config.BEST_BID_ASK))
            return
        tokens, is_yes = found
        bid, ask = best_bid_text(msg.best_bid), best_ask_text(msg.best_ask)
        if not is_yes:
            bid, ask = mirror_top(bid, ask)
        out.events.append(
            Quote(
                venue=VENUE,
                market=self._market(tokens),
                ts_event_ns=timestamp_ns(msg.timestamp),
                ts_recv_ns=ts_recv_ns,
                bid_price=bid,
                ask_price=ask,
            )
        )

    def _tick_size_change(self, msg: TickSizeChangeMsg, ts_recv_ns: int, out: _Out) -> None:  # noqa: ARG002
        found = self.index.lookup(msg.asset_id)
        if found is None:
            out.controls.append(UnknownAsset(msg.asset_id, config.TICK_SIZE_CHANGE))
            return
        out.controls.append(
            TickSizeChange(
                market=self._market(found[0]),
                asset_id=msg.asset_id,
                old_tick_size=price_text(msg.old_tick_size, "old_tick_size"),
                new_tick_size=price_text(msg.new_tick_size, "new_tick_size"),
                ts_event_ns=timestamp_ns(msg.timestamp),
            )
        )

    def _new_market(self, msg: NewMarketMsg, ts_recv_ns: int, out: _Out) -> None:  # noqa: ARG002
        tick = msg.order_price_min_tick_size
        tick_size = price_text(tick, "order_price_min_tick_size") if tick else None
        condition_id = msg.condition_id or msg.market
        out.controls.append(
            NewMarket(
                tokens=binary_tokens(
                    condition_id,
                    None,
                    msg.assets_ids,
                    msg.outcomes,
                    slug=msg.slug,
                    tick_size=tick_size,
                ),
                condition_id=condition_id,
                question=msg.question,
                slug=msg.slug,
                assets_ids=tuple(msg.assets_ids),
                outcomes=tuple(msg.outcomes),
                tick_size=tick_size,
                ts_event_ns=timestamp_ns(msg.timestamp),
            )
        )

    def _market_resolved(self, msg: MarketResolvedMsg, ts_recv_ns: int, out: _Out) -> None:
        condition_id = normalize_condition_id(msg.market)
        tokens = None if condition_id is None else self.index.market_of(condition_id)
        if tokens is None:
            found = self.index.lookup(msg.winning_asset_id)
            tokens = None if found is None else found[0]
        if tokens is None:
            out.controls.append(UnknownAsset(msg.winning_asset_id, config.MARKET_RESOLVED))
            return
        out.events.append(
            MarketStatus(
                venue=VENUE,
                market=self._market(tokens),
                ts_event_ns=timestamp_ns(msg.timestamp),
                ts_recv_ns=ts_recv_ns,
                status="settled",
                result=msg.winning_outcome,
            )
        )
        out.controls.append(
            Resolved(self._market(tokens), msg.winning_asset_id, msg.winning_outcome)
        )


# -- helpers --------------------------------------------------------------------------------
def derived_trade_id(msg: LastTradePriceMsg) -> str:
    """The trade id of a trade without ``transaction_hash``; see module doc."""
    key = f"{msg.asset_id}|{msg.timestamp}|{msg.price}|{msg.size}|{msg.side}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]
