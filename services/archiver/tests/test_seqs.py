"""SeqRanges and ranges_of: the committed-sequence sets of the manifest."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssmd.archiver.seqs import SeqRanges, ranges_of

pytestmark = pytest.mark.unit

small_ranges = st.lists(
    st.tuples(st.integers(1, 300), st.integers(0, 20)).map(lambda t: (t[0], t[0] + t[1])),
    max_size=30,
)


@given(small_ranges)
def test_membership_equals_the_union_of_the_ranges_added(ranges: list[tuple[int, int]]) -> None:
    seqs = SeqRanges(ranges)
    expected = {n for lo, hi in ranges for n in range(lo, hi + 1)}
    assert {n for n in range(340) if n in seqs} == expected
    assert seqs.count == len(expected)
    assert seqs.max == max(expected, default=0)


@given(small_ranges)
def test_ranges_stay_sorted_disjoint_and_not_adjacent(ranges: list[tuple[int, int]]) -> None:
    pairs = list(SeqRanges(ranges))
    for (lo1, hi1), (lo2, hi2) in itertools.pairwise(pairs):
        assert lo1 <= hi1 < lo2 - 1 < hi2
    assert SeqRanges(pairs) == SeqRanges(ranges)  # insertion order does not matter


@given(st.lists(st.integers(1, 500), unique=True))
def test_ranges_of_compresses_sorted_sequences(values: list[int]) -> None:
    values.sort()
    runs = ranges_of(values)
    assert [n for lo, hi in runs for n in range(lo, hi + 1)] == values
    assert all(b[0] > a[1] + 1 for a, b in itertools.pairwise(runs))


def test_merging_bridges_a_hole() -> None:
    seqs = SeqRanges([(1, 3), (7, 9)])
    seqs.add(4, 6)
    assert list(seqs) == [(1, 9)]
    assert seqs.as_lists() == [[1, 9]]
    with pytest.raises(ValueError, match="empty range"):
        seqs.add(5, 4)
    assert "1" not in seqs
