"""Kalshi's bids-only YES/NO books as canonical YES-leg books, in exact decimal text.

Kalshi books are bids only: ``yes`` levels are bids to buy YES, ``no`` levels bids to buy NO
(shared/VENUES.md 1.7). In YES terms a NO bid at q is an offer to sell YES at 1 - q, so the
canonical book has bids = the YES levels (best = highest first) and asks = 1 - q for each NO
level (best = lowest first). WebSocket deltas carry size INCREMENTS; canonical deltas carry
the new absolute size, so `YesLegBooks` keeps every market's resting sizes.

Numbers never pass through float or Decimal: venue texts are rewritten into canonical plain
decimals (``"0.5600"`` -> ``"0.56"``, ``"300.00"`` -> ``"300"``) through bounded caches, and
1 - q and size sums are computed on scaled integers. Prices must lie in [0, 1].
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal

from ssmd.contracts.events import LevelChange, PriceLevel
from ssmd.venues.kalshi.wire import CentLevel, DollarLevel, LegacyDollarLevel, MarketSide
from ssmd.venues.numbers import plain_decimal, scaled_int_text

BookIssue = Literal["no_snapshot", "negative_size"]
"""``no_snapshot``: a delta for a market with no snapshot yet (the book is not synced);
``negative_size``: a delta would have made a size negative and was clamped to 0."""
_CACHE_MAX: Final = 1 << 16
_CENTS_PER_DOLLAR: Final = 100
Fixed = tuple[int, int]
"""A decimal as ``(units, places)``: the value is ``units * 10**-places``."""
_texts: dict[str, str] = {}  # venue decimal text -> canonical text
_fixed: dict[str, Fixed] = {}  # canonical text -> (units, places)
_asks: dict[str, str] = {}  # canonical NO bid price q -> canonical YES ask price 1 - q


class WireValueError(ValueError):
    """A field's value is not what the protocol allows; `field` names it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


def decimal_text(text: str, field: str) -> str:
    """Canonical plain text of a venue decimal string (cached); WireValueError if not one."""
    found = _texts.get(text)
    if found is None:
        try:
            found = plain_decimal(text)
        except ValueError as exc:
            raise WireValueError(field, str(exc)) from None
        if len(_texts) >= _CACHE_MAX:
            _texts.clear()
        _texts[text] = found
    return found


def price_text(text: str, field: str) -> str:
    """A dollar price as canonical text; it must be a probability in [0, 1]."""
    price = decimal_text(text, field)
    # Canonical text has no sign of zero, no leading zeros: [0, 1] is "1" or "0...".
    if price != "1" and price[0] != "0":
        raise WireValueError(field, f"price {text!r} is not in [0, 1]")
    return price


def cents_text(cents: int, field: str) -> str:
    """A legacy integer-cent price as canonical dollar text."""
    if not 0 <= cents <= _CENTS_PER_DOLLAR:
        raise WireValueError(field, f"price {cents} cents is not in [0, 100]")
    return scaled_int_text(cents, 2)


def size_text(text: str, field: str) -> str:
    """A non-negative count as canonical text."""
    size = decimal_text(text, field)
    if size[0] == "-":
        raise WireValueError(field, f"negative size {text!r}")
    return size


def count_text(count: int, field: str) -> str:
    """A legacy integer count as canonical text."""
    if count < 0:
        raise WireValueError(field, f"negative size {count}")
    return str(count)


def yes_ask(no_price: str) -> str:
    """1 - q for a canonical price q in [0, 1]: the YES ask that a NO bid at q is."""
    found = _asks.get(no_price)
    if found is None:
        if no_price in ("0", "1"):
            found = "1" if no_price == "0" else "0"
        else:
            digits = no_price[2:]  # canonical "0.ddd"
            found = scaled_int_text(10 ** len(digits) - int(digits), len(digits))
        if len(_asks) >= _CACHE_MAX:
            _asks.clear()
        _asks[no_price] = found
    return found


def fixed(text: str) -> Fixed:
    """``(units, places)`` of canonical decimal text: ``"-12.5"`` -> ``(-125, 1)`` (cached)."""
    found = _fixed.get(text)
    if found is None:
        point = text.find(".")
        if point < 0:
            found = int(text), 0
        else:
            found = int(text[:point] + text[point + 1 :]), len(text) - point - 1
        if len(_fixed) >= _CACHE_MAX:
            _fixed.clear()
        _fixed[text] = found
    return found


def _add(a: Fixed, b: Fixed) -> Fixed:
    units_a, places_a = a
    units_b, places_b = b
    if places_a == places_b:
        return units_a + units_b, places_a
    if places_a < places_b:
        return units_a * 10 ** (places_b - places_a) + units_b, places_b
    return units_a + units_b * 10 ** (places_a - places_b), places_a


def add_sizes(a: str, b: str) -> str:
    """The exact sum of two canonical decimal texts, as canonical text."""
    return scaled_int_text(*_add(fixed(a), fixed(b)))


def fp_levels(levels: list[DollarLevel], field: str) -> Iterable[tuple[str, str]]:
    """``[[price_dollars, count_fp]]`` (current form) as canonical (price, size) pairs."""
    return ((price_text(p, field), size_text(c, field)) for p, c in levels)


def dollar_levels(levels: list[LegacyDollarLevel], field: str) -> Iterable[tuple[str, str]]:
    """``[[price_dollars, integer count]]`` (older form) as canonical pairs."""
    return ((price_text(p, field), count_text(c, field)) for p, c in levels)


def cent_levels(levels: list[CentLevel], field: str) -> Iterable[tuple[str, str]]:
    """``[[cents, integer count]]`` (oldest form) as canonical pairs."""
    return ((cents_text(p, field), count_text(c, field)) for p, c in levels)


def level_map(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """price -> size of canonical pairs; a later pair for a price wins, size 0 removes it."""
    levels: dict[str, str] = {}
    for price, size in pairs:
        if size == "0":
            levels.pop(price, None)
        else:
            levels[price] = size
    return levels


def side_levels(
    fp: list[DollarLevel] | None,
    dollars: list[LegacyDollarLevel] | None,
    cents: list[CentLevel] | None,
    side: MarketSide,
) -> dict[str, str]:
    """One WebSocket snapshot side (price -> size), from the newest form present.

    ``fp`` is ``<side>_dollars_fp``; ``dollars`` (``<side>_dollars``) and ``cents``
    (``<side>``) are the older forms.
    """
    if fp is not None:
        return level_map(fp_levels(fp, f"{side}_dollars_fp"))
    if dollars is not None:
        return level_map(dollar_levels(dollars, f"{side}_dollars"))
    if cents is not None:
        return level_map(cent_levels(cents, side))
    return {}


def yes_leg_book(
    yes: dict[str, str], no: dict[str, str]
) -> tuple[list[PriceLevel], list[PriceLevel]]:
    """Canonical (bids, asks), best first, of a bids-only book of canonical texts."""
    # Canonical texts of numbers in [0, 1] sort as strings exactly as they do as numbers.
    bids = [PriceLevel(price, yes[price]) for price in sorted(yes, reverse=True)]
    asks = [PriceLevel(yes_ask(price), no[price]) for price in sorted(no, reverse=True)]
    return bids, asks


class _Resting:
    """Resting sizes of one market: canonical price -> size, per bids-only side."""

    __slots__ = ("no", "synced", "yes")

    def __init__(self, yes: dict[str, Fixed], no: dict[str, Fixed], *, synced: bool) -> None:
        self.yes = yes
        self.no = no
        self.synced = synced


class YesLegBooks:
    """Per-market resting sizes: snapshots replace them, delta increments move them."""

    __slots__ = ("_books",)

    def __init__(self) -> None:
        self._books: dict[str, _Resting] = {}

    def snapshot(
        self, ticker: str, yes: dict[str, str], no: dict[str, str]
    ) -> tuple[list[PriceLevel], list[PriceLevel]]:
        """Replace `ticker`'s book (canonical levels from `side_levels`); canonical sides."""
        self._books[ticker] = _Resting(
            {price: fixed(size) for price, size in yes.items()},
            {price: fixed(size) for price, size in no.items()},
            synced=True,
        )
        return yes_leg_book(yes, no)

    def delta(
        self, ticker: str, side: MarketSide, price: str, increment: str
    ) -> tuple[LevelChange, BookIssue | None]:
        """Add `increment` at canonical `price` on `side`; the canonical change and any issue.

        Without a snapshot the level starts at 0 (the result is flagged ``no_snapshot``); a
        size that would go below 0 is clamped to 0 and flagged ``negative_size``.
        """
        book = self._books.get(ticker)
        if book is None:
            book = self._books[ticker] = _Resting({}, {}, synced=False)
        issue: BookIssue | None = None if book.synced else "no_snapshot"
        levels = book.yes if side == "yes" else book.no
        old = levels.get(price)
        units, places = fixed(increment) if old is None else _add(old, fixed(increment))
        if units < 0:
            units = 0
            issue = issue or "negative_size"
        if units == 0:
            levels.pop(price, None)
            size = "0"
        else:
            levels[price] = units, places
            size = scaled_int_text(units, places)
        if side == "yes":
            return LevelChange(side="bid", price=price, size=size), issue
        return LevelChange(side="ask", price=yes_ask(price), size=size), issue

    def is_synced(self, ticker: str) -> bool:
        """True once a snapshot of `ticker` was applied (and not dropped since)."""
        book = self._books.get(ticker)
        return book is not None and book.synced

    def drop(self, tickers: Iterable[str] | None = None) -> None:
        """Forget the books of `tickers` (all when None)."""
        if tickers is None:
            self._books.clear()
            return
        for ticker in tickers:
            self._books.pop(ticker, None)

    def levels(self, ticker: str) -> tuple[list[PriceLevel], list[PriceLevel]]:
        """Canonical (bids, asks) of the sizes kept for `ticker` (empty if unknown)."""
        book = self._books.get(ticker)
        if book is None:
            return [], []
        return yes_leg_book(
            {price: scaled_int_text(*size) for price, size in book.yes.items()},
            {price: scaled_int_text(*size) for price, size in book.no.items()},
        )
