"""`OrderBook`: a venue-agnostic L2 book built from canonical snapshots and level changes.

Levels are keyed by exact `Decimal` price, so ``"34892.50"`` and ``"34892.5"`` are one level.
Each side keeps a dict (price -> level) and a sorted list of prices, so a change costs one
dict operation and one binary-search insert or delete, and the top N levels are a slice.
Sizes are absolute, as on every venue we speak: a change sets the level's size, size 0
removes it. Levels come back as canonical `PriceLevel`s (plain-notation decimal strings,
best first). Used by the connector (to check its stream) and the simulator (its truth).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from decimal import Decimal
from typing import Final, Literal

from ssmd.contracts.events import BookDelta, BookSnapshot, LevelChange, PriceLevel
from ssmd.venues.numbers import decimal_text, parse_decimal

BookSide = Literal["bid", "ask"]
LevelInput = PriceLevel | tuple[str, str]
_ZERO: Final = Decimal(0)


class _Side:
    """One side: price -> (size, canonical price text, canonical size text)."""

    __slots__ = ("_levels", "_prices", "descending")

    def __init__(self, *, descending: bool) -> None:
        self.descending = descending
        self._levels: dict[Decimal, tuple[Decimal, str, str]] = {}
        self._prices: list[Decimal] = []  # ascending

    def clear(self) -> None:
        self._levels.clear()
        self._prices.clear()

    def set(self, price_text: str, size_text: str) -> None:
        price = parse_decimal(price_text)
        size = parse_decimal(size_text)
        if size < _ZERO:
            raise ValueError(f"negative size {size_text!r} at price {price_text!r}")
        present = price in self._levels
        if size == _ZERO:
            if present:
                del self._levels[price]
                index = bisect.bisect_left(self._prices, price)
                del self._prices[index]
            return
        if not present:
            bisect.insort(self._prices, price)
        self._levels[price] = (size, decimal_text(price), decimal_text(size))

    def best(self) -> Decimal | None:
        if not self._prices:
            return None
        return self._prices[-1] if self.descending else self._prices[0]

    def top(self, depth: int | None) -> list[PriceLevel]:
        if self.descending:
            prices = self._prices[::-1] if depth is None else self._prices[: -depth - 1 : -1]
        else:
            prices = self._prices if depth is None else self._prices[:depth]
        levels = self._levels
        return [PriceLevel(levels[p][1], levels[p][2]) for p in prices]

    def sizes(self) -> dict[Decimal, Decimal]:
        return {price: level[0] for price, level in self._levels.items()}

    def __len__(self) -> int:
        return len(self._prices)


class OrderBook:
    """An L2 order book of one market; see module doc."""

    __slots__ = ("_asks", "_bids", "market")

    def __init__(self, market: str | None = None) -> None:
        self.market = market
        self._bids = _Side(descending=True)
        self._asks = _Side(descending=False)

    def _side(self, side: BookSide) -> _Side:
        if side == "bid":
            return self._bids
        if side == "ask":
            return self._asks
        raise ValueError(f"unknown book side {side!r}")

    # -- updates ------------------------------------------------------------------------
    def apply_snapshot(self, bids: Iterable[LevelInput], asks: Iterable[LevelInput]) -> None:
        """Replace the whole book; levels of size 0 are ignored, order does not matter."""
        self._bids.clear()
        self._asks.clear()
        for side, levels in ((self._bids, bids), (self._asks, asks)):
            for level in levels:
                price, size = (level.price, level.size) if isinstance(level, PriceLevel) else level
                side.set(price, size)

    def apply_snapshot_event(self, snapshot: BookSnapshot) -> None:
        """Replace the whole book with a canonical BookSnapshot."""
        self.apply_snapshot(snapshot.bids, snapshot.asks)

    def set_level(self, side: BookSide, price: str, size: str) -> None:
        """Set one level's absolute size; size 0 removes the level."""
        self._side(side).set(price, size)

    def apply_changes(self, changes: Iterable[LevelChange]) -> None:
        """Apply level changes in order."""
        for change in changes:
            self._side(change.side).set(change.price, change.size)

    def apply_delta(self, delta: BookDelta) -> None:
        """Apply a canonical BookDelta."""
        self.apply_changes(delta.changes)

    def clear(self) -> None:
        self._bids.clear()
        self._asks.clear()

    # -- reads --------------------------------------------------------------------------
    def bids(self, depth: int | None = None) -> list[PriceLevel]:
        """Bid levels, best (highest) first; all of them when `depth` is None."""
        return self._bids.top(depth)

    def asks(self, depth: int | None = None) -> list[PriceLevel]:
        """Ask levels, best (lowest) first; all of them when `depth` is None."""
        return self._asks.top(depth)

    def top(self, depth: int) -> tuple[list[PriceLevel], list[PriceLevel]]:
        """(bids, asks), each best first, at most `depth` levels per side."""
        return self._bids.top(depth), self._asks.top(depth)

    @property
    def best_bid(self) -> PriceLevel | None:
        levels = self._bids.top(1)
        return levels[0] if levels else None

    @property
    def best_ask(self) -> PriceLevel | None:
        levels = self._asks.top(1)
        return levels[0] if levels else None

    def is_crossed(self) -> bool:
        """True when the best bid is at or above the best ask (a book gone wrong)."""
        bid, ask = self._bids.best(), self._asks.best()
        return bid is not None and ask is not None and bid >= ask

    def depth(self) -> tuple[int, int]:
        """(number of bid levels, number of ask levels)."""
        return len(self._bids), len(self._asks)

    def as_dicts(self) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
        """(bids, asks) as price -> size maps, for comparisons in tests and checks."""
        return self._bids.sizes(), self._asks.sizes()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OrderBook):
            return NotImplemented
        return self.as_dicts() == other.as_dicts()

    __hash__ = None  # type: ignore[assignment]  # mutable: not hashable

    def __repr__(self) -> str:
        bids, asks = self.depth()
        return f"OrderBook({self.market!r}, bids={bids}, asks={asks})"
