"""The connector's own L2 books: one `OrderBook` per market, kept from snapshots and deltas.

The book is how the connector checks its stream (a gap leaves it unsynced until a fresh
snapshot) and what ``/debug/book`` shows, so tests and people can compare it with the
venue's. Listeners (`add_listener`) are called after every change a book took; nothing is
called when there are none, so the hot path pays one truth test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ssmd.contracts.events import BookDelta, BookSnapshot
from ssmd.venues.book import OrderBook

BookListener = Callable[[str, "MarketBook"], None]
"""Called as ``listener(market, book)`` after a snapshot or delta was applied."""


class MarketBook:
    """One market's book and whether it can be trusted."""

    __slots__ = ("book", "market", "seq", "synced", "unsynced_since_ns")

    def __init__(self, market: str) -> None:
        self.market = market
        self.book = OrderBook(market)
        self.synced = False
        self.seq: int | None = None
        self.unsynced_since_ns: int | None = None

    def as_json(self, depth: int | None) -> dict[str, Any]:
        bids, asks = self.book.bids(depth), self.book.asks(depth)
        return {
            "market": self.market,
            "synced": self.synced,
            "seq": self.seq,
            "depth": list(self.book.depth()),
            "bids": [[level.price, level.size] for level in bids],
            "asks": [[level.price, level.size] for level in asks],
        }


class BookKeeper:
    """Books of every market the connector saw book data for; see module doc."""

    def __init__(self) -> None:
        self._books: dict[str, MarketBook] = {}
        self._listeners: list[BookListener] = []

    def add_listener(self, listener: BookListener) -> Callable[[], None]:
        """Call `listener` after every applied change; returns a function that removes it."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def _market(self, market: str) -> MarketBook:
        state = self._books.get(market)
        if state is None:
            state = self._books[market] = MarketBook(market)
        return state

    def apply_snapshot(self, event: BookSnapshot) -> None:
        state = self._market(event.market)
        state.book.apply_snapshot_event(event)
        state.synced = True
        state.seq = event.seq
        state.unsynced_since_ns = None
        if self._listeners:
            self._notify(state)

    def apply_delta(self, event: BookDelta) -> None:
        state = self._market(event.market)
        state.book.apply_delta(event)
        state.seq = event.seq
        if self._listeners:
            self._notify(state)

    def differs(self, snapshot: BookSnapshot) -> bool:
        """Whether `snapshot` differs from the current book of its market."""
        state = self._books.get(snapshot.market)
        if state is None:
            return True
        fresh = OrderBook(snapshot.market)
        fresh.apply_snapshot_event(snapshot)
        return fresh != state.book

    def is_synced(self, market: str) -> bool:
        state = self._books.get(market)
        return state is not None and state.synced

    def unsync(self, market: str, now_ns: int) -> None:
        """The book missed data: untrusted until the next snapshot."""
        state = self._market(market)
        if state.synced or state.unsynced_since_ns is None:
            state.unsynced_since_ns = now_ns
        state.synced = False

    def reset(self, now_ns: int, markets: Iterable[str] | None = None) -> None:
        """A new socket: its markets' books (default: every book) are emptied and wait for
        their snapshots."""
        states = (
            self._books.values()
            if markets is None
            else [state for m in markets if (state := self._books.get(m)) is not None]
        )
        for state in states:
            state.book.clear()
            state.synced = False
            state.seq = None
            state.unsynced_since_ns = now_ns

    def forget(self, markets: Iterable[str]) -> None:
        """Markets no longer served: their books are gone (not waited for)."""
        for market in markets:
            self._books.pop(market, None)

    def oldest_unsynced_ns(self, markets: Iterable[str] | None = None) -> int | None:
        """Since when the longest-waiting unsynced book (of `markets`, default all) has
        waited (None: all synced)."""
        states = (
            self._books.values()
            if markets is None
            else [state for m in markets if (state := self._books.get(m)) is not None]
        )
        waiting = [s.unsynced_since_ns for s in states if not s.synced]
        known = [since for since in waiting if since is not None]
        return min(known) if known else None

    def get(self, market: str) -> MarketBook | None:
        return self._books.get(market)

    def __iter__(self) -> Iterator[MarketBook]:
        return iter(list(self._books.values()))

    def _notify(self, state: MarketBook) -> None:
        for listener in list(self._listeners):
            listener(state.market, state)
