"""Per-market book sequence tracking: where the venue's numbering says data was lost.

A venue that numbers each market's book (``per_market_book_seq``) sends a snapshot with
sequence ``s`` and then deltas ``s+1, s+2, ...``. `SeqTracker.on_delta` answers, for each
delta, whether it continues the book, repeats something already seen, or jumps (a gap:
the deltas in between were lost, and the book is wrong until the next snapshot).

After a gap a market is *unsynced*: its deltas are not checked (and not applied to the
book) until a snapshot re-synchronises it, so one lost stretch yields exactly one gap.
"""

from __future__ import annotations

from enum import Enum
from typing import Final, NamedTuple


class DeltaVerdict(Enum):
    """What a delta's sequence number means for the book."""

    IN_ORDER = "in_order"  # the next one: apply it
    UNSYNCED = "unsynced"  # no snapshot yet (or since a gap): do not apply
    STALE = "stale"  # at or before the last applied one: already in the book
    GAP = "gap"  # later than the next one: deltas were lost


class GapInfo(NamedTuple):
    """A detected gap: the sequence number expected and the one received."""

    expected_seq: int
    received_seq: int


_NONE: Final = -1


class SeqTracker:
    """Last applied book sequence per market; see module doc."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: dict[str, int] = {}  # market -> last applied seq; absent = unsynced

    def on_snapshot(self, market: str, seq: int | None) -> None:
        """A snapshot (re)starts the market's numbering at `seq` (None: not numbered)."""
        if seq is None:
            self._last.pop(market, None)
        else:
            self._last[market] = seq

    def on_delta(self, market: str, seq: int | None) -> tuple[DeltaVerdict, GapInfo | None]:
        """Classify a delta; a gap also unsyncs the market (see module doc)."""
        last = self._last.get(market, _NONE)
        if last == _NONE or seq is None:
            return DeltaVerdict.UNSYNCED, None
        if seq == last + 1:
            self._last[market] = seq
            return DeltaVerdict.IN_ORDER, None
        if seq <= last:
            return DeltaVerdict.STALE, None
        del self._last[market]
        return DeltaVerdict.GAP, GapInfo(last + 1, seq)

    def is_synced(self, market: str) -> bool:
        return market in self._last

    def last_seq(self, market: str) -> int | None:
        return self._last.get(market)

    def reset(self) -> None:
        """Forget every market (a new socket: snapshots follow the new subscriptions)."""
        self._last.clear()
