"""`SeqRanges`: a set of stream sequences kept as sorted, disjoint closed ranges.

The archiver commits messages mostly in stream order, so the committed set of a stream is
a handful of ranges however many millions of messages it holds; membership is a bisect.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence

Range = tuple[int, int]


def ranges_of(sorted_seqs: Sequence[int]) -> list[Range]:
    """Runs of consecutive values of an ascending sequence, as closed ranges."""
    out: list[Range] = []
    if not sorted_seqs:
        return out
    start = previous = sorted_seqs[0]
    for seq in sorted_seqs[1:]:
        if seq != previous + 1:
            out.append((start, previous))
            start = seq
        previous = seq
    out.append((start, previous))
    return out


class SeqRanges:
    """Sorted, disjoint, non-adjacent closed ranges ``[lo, hi]`` of integers."""

    __slots__ = ("_ends", "_starts")

    def __init__(self, ranges: Iterable[Range] = ()) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        for lo, hi in ranges:
            self.add(lo, hi)

    def add(self, lo: int, hi: int) -> None:
        """Add every integer of ``[lo, hi]``, merging with overlapping or adjacent ranges."""
        if lo > hi:
            raise ValueError(f"empty range {lo}..{hi}")
        starts, ends = self._starts, self._ends
        if not starts or lo > ends[-1] + 1:  # the common case: past the end
            starts.append(lo)
            ends.append(hi)
            return
        # First range that could touch [lo, hi] (ends at lo - 1 or later) and the first
        # that starts after hi + 1; everything between merges into one.
        first = bisect_left(ends, lo - 1)
        last = bisect_right(starts, hi + 1)
        if first < last:
            lo = min(lo, starts[first])
            hi = max(hi, ends[last - 1])
        starts[first:last] = [lo]
        ends[first:last] = [hi]

    def add_all(self, ranges: Iterable[Range]) -> None:
        for lo, hi in ranges:
            self.add(lo, hi)

    def __contains__(self, seq: object) -> bool:
        if not isinstance(seq, int):
            return False
        at = bisect_right(self._starts, seq) - 1
        return at >= 0 and seq <= self._ends[at]

    def __iter__(self) -> Iterator[Range]:
        return zip(self._starts, self._ends, strict=True)

    def __len__(self) -> int:
        """Number of ranges (not of sequences)."""
        return len(self._starts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SeqRanges):
            return NotImplemented
        return self._starts == other._starts and self._ends == other._ends

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"SeqRanges({list(self)!r})"

    @property
    def count(self) -> int:
        """Number of sequences in the set."""
        return sum(hi - lo + 1 for lo, hi in self)

    @property
    def max(self) -> int:
        """The largest sequence in the set, 0 when empty (stream sequences start at 1)."""
        return self._ends[-1] if self._ends else 0

    def as_lists(self) -> list[list[int]]:
        """``[[lo, hi], ...]``, as written to the manifest."""
        return [[lo, hi] for lo, hi in self]
