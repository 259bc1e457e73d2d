"""The venue's state at a replay's position in a capture: books and recent trades.

A replay sends a client what the capture recorded, but a client that re-subscribes (after a
sequence gap) must get what the venue would send then: a ``book_snapshot`` of the book as
it stands and a ``trade_snapshot`` of the recent trades. `ReplayState` rebuilds both from
every book and trade frame the replay's cursor passes, sent or not: a frame left out of a
replay models a frame lost on its way to the client, not a change to the venue's book.

Levels keep the capture's number text (``439.3``, ``20108.0``), so a snapshot built here
prints its numbers exactly as the capture's own snapshot would. A product's book is known
only from the capture's first ``book_snapshot`` of it on, its recent trades from the first
``trade_snapshot``; before that a re-subscribe gets no snapshot (as the capture would show).
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Final

import msgspec

from ssmd.simulator.kraken_futures import frames
from ssmd.simulator.kraken_futures.product_state import Key, Outgoing, trade_snapshot
from ssmd.simulator.ledger import Record
from ssmd.venues.kraken_futures.config import BOOK, TRADE
from ssmd.venues.kraken_futures.wire import (
    BookLevel,
    BookMsg,
    BookSnapshotMsg,
    TradeMsg,
    TradeSnapshotMsg,
)

StateUpdate = BookSnapshotMsg | BookMsg | TradeSnapshotMsg | TradeMsg
"""A capture frame that changes the venue's state, decoded with its number texts."""

STATE_FEEDS: Final = frozenset({"book_snapshot", "book", "trade_snapshot", "trade"})
"""Feeds whose frames are `StateUpdate`s."""

_UPDATE_DECODER: Final[msgspec.json.Decoder[StateUpdate]] = msgspec.json.Decoder(StateUpdate)

_Side = dict[Decimal, tuple[str, str]]
"""Price -> (price text, qty text) as the capture printed them."""


def decode_update(frame: bytes) -> StateUpdate:
    """The update a frame of a `STATE_FEEDS` feed carries (the frame parsed already)."""
    return _UPDATE_DECODER.decode(frame)


def _text(number: msgspec.Raw) -> str:
    return bytes(number).decode()


def _side(levels: list[BookLevel]) -> _Side:
    side: _Side = {}
    for level in levels:
        qty = _text(level.qty)
        if Decimal(qty) != 0:
            price = _text(level.price)
            side[Decimal(price)] = (price, qty)
    return side


class ReplayBook:
    """One product's book after the last book message applied, and that message's seq."""

    __slots__ = ("asks", "bids", "seq", "ts_ms")

    def __init__(self, snapshot: BookSnapshotMsg) -> None:
        self.seq = snapshot.seq
        self.ts_ms = snapshot.timestamp
        self.bids = _side(snapshot.bids)
        self.asks = _side(snapshot.asks)

    def apply(self, delta: BookMsg) -> None:
        side = self.bids if delta.side == "buy" else self.asks
        price, qty = _text(delta.price), _text(delta.qty)
        if Decimal(qty) == 0:
            side.pop(Decimal(price), None)
        else:
            side[Decimal(price)] = (price, qty)
        self.seq = delta.seq
        self.ts_ms = delta.timestamp

    def levels(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """(bids, asks) as (price, qty) texts, best first."""
        return (
            [self.bids[price] for price in sorted(self.bids, reverse=True)],
            [self.asks[price] for price in sorted(self.asks)],
        )


class ReplayState:
    """Books and recent trades per product at a replay's cursor; see module doc."""

    def __init__(self, trade_snapshot_size: int) -> None:
        self.books: dict[str, ReplayBook] = {}
        self.trades: dict[str, deque[TradeMsg]] = {}
        self._trade_snapshot_size = trade_snapshot_size

    def apply(self, product: str, update: StateUpdate) -> None:
        """Apply one capture frame of `product` (upper case) that the cursor passed."""
        if isinstance(update, BookMsg):
            book = self.books.get(product)
            if book is not None:
                book.apply(update)
        elif isinstance(update, BookSnapshotMsg):
            self.books[product] = ReplayBook(update)
        elif isinstance(update, TradeMsg):
            trades = self.trades.get(product)
            if trades is not None:
                trades.appendleft(update)
        else:
            size = self._trade_snapshot_size
            self.trades[product] = deque(update.trades[:size], maxlen=size)  # newest first

    def snapshot(self, key: Key) -> Outgoing | None:
        """The snapshot a subscribe to `key` gets now; None while the state is unknown."""
        feed, product = key
        if feed == BOOK:
            book = self.books.get(product)
            if book is None:
                return None
            bids, asks = book.levels()
            frame = frames.book_snapshot(product, book.seq, book.ts_ms, bids, asks)
            return frame, Record("data", "book_snapshot", product, book.seq)
        if feed == TRADE:
            trades = self.trades.get(product)
            return None if trades is None else trade_snapshot(product, list(trades))
        return None
