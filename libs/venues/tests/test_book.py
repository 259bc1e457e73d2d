"""OrderBook: snapshots, absolute level changes, best-first reads, crossed check."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssmd.contracts.events import BookDelta, BookSnapshot, LevelChange, PriceLevel
from ssmd.venues.book import OrderBook

pytestmark = pytest.mark.unit


def test_snapshot_levels_come_back_best_first_and_canonical() -> None:
    book = OrderBook("kraken_futures:PI_XBTUSD")
    book.apply_snapshot(
        bids=[("34892", "10924"), ("34892.50", "6385.0"), ("34000", "0")],
        asks=[PriceLevel("34912", "2300"), PriceLevel("34911.5", "20598")],
    )
    assert book.bids() == [PriceLevel("34892.5", "6385"), PriceLevel("34892", "10924")]
    assert book.asks() == [PriceLevel("34911.5", "20598"), PriceLevel("34912", "2300")]
    assert book.best_bid == PriceLevel("34892.5", "6385")
    assert book.best_ask == PriceLevel("34911.5", "20598")
    assert book.depth() == (2, 2)
    assert not book.is_crossed()


def test_changes_set_absolute_sizes_and_zero_removes() -> None:
    book = OrderBook()
    book.apply_snapshot([("100", "1")], [("101", "1")])
    book.apply_changes(
        [
            LevelChange(side="bid", price="100", size="5"),
            LevelChange(side="bid", price="99.5", size="2"),
            LevelChange(side="ask", price="101", size="0"),
            LevelChange(side="ask", price="102", size="3"),
            LevelChange(side="ask", price="150", size="0"),  # removing an absent level is a no-op
        ]
    )
    assert book.top(5) == (
        [PriceLevel("100", "5"), PriceLevel("99.5", "2")],
        [PriceLevel("102", "3")],
    )
    assert book.top(1) == ([PriceLevel("100", "5")], [PriceLevel("102", "3")])


def test_crossed_book_is_detected() -> None:
    book = OrderBook()
    book.apply_snapshot([("100", "1")], [("101", "1")])
    book.set_level("bid", "101", "1")
    assert book.is_crossed()


def test_events_apply_and_snapshot_replaces_everything() -> None:
    book = OrderBook()
    common = {"venue": "v", "market": "v:X", "ts_event_ns": 1, "ts_recv_ns": 2}
    book.apply_snapshot_event(
        BookSnapshot(**common, bids=[PriceLevel("1", "1")], asks=[PriceLevel("2", "1")])
    )
    book.apply_delta(BookDelta(**common, changes=[LevelChange(side="bid", price="1.5", size="4")]))
    assert book.best_bid == PriceLevel("1.5", "4")
    book.apply_snapshot_event(BookSnapshot(**common, bids=[], asks=[PriceLevel("3", "1")]))
    assert book.bids() == []
    assert book.asks() == [PriceLevel("3", "1")]


def test_books_with_equal_levels_are_equal_whatever_the_spelling() -> None:
    one, two = OrderBook("a"), OrderBook("b")
    one.apply_snapshot([("1.50", "2")], [])
    two.apply_snapshot([("1.5", "2.0")], [])
    assert one == two
    two.set_level("ask", "3", "1")
    assert one != two


def test_bad_input_is_rejected() -> None:
    book = OrderBook()
    with pytest.raises(ValueError, match="negative size"):
        book.set_level("bid", "1", "-1")
    with pytest.raises(ValueError, match="not a decimal"):
        book.set_level("bid", "x", "1")
    with pytest.raises(ValueError, match="side"):
        book.set_level("middle", "1", "1")  # type: ignore[arg-type]


prices = st.integers(min_value=-50, max_value=400).map(lambda ticks: Decimal(ticks) / 4)
sizes = st.integers(min_value=0, max_value=20).map(lambda lots: Decimal(lots) / 2)
levels = st.lists(st.tuples(prices, sizes), max_size=30)
changes = st.lists(st.tuples(st.sampled_from(["bid", "ask"]), prices, sizes), max_size=80)


def _text(value: Decimal) -> str:
    # Deliberately non-canonical spellings: the book must normalise them.
    return f"{value:.3f}" if value != value.to_integral_value() else format(value, "f")


@settings(max_examples=200, deadline=None)
@given(levels, levels, changes, st.integers(min_value=0, max_value=40))
def test_random_snapshot_and_changes_match_a_dict_reference(
    bids: list[tuple[Decimal, Decimal]],
    asks: list[tuple[Decimal, Decimal]],
    updates: list[tuple[str, Decimal, Decimal]],
    depth: int,
) -> None:
    reference: dict[str, dict[Decimal, Decimal]] = {"bid": {}, "ask": {}}
    for side, initial in (("bid", bids), ("ask", asks)):
        for price, size in initial:
            if size:
                reference[side][price] = size
            else:
                reference[side].pop(price, None)
    book = OrderBook()
    book.apply_snapshot(
        [(_text(p), _text(s)) for p, s in bids], [(_text(p), _text(s)) for p, s in asks]
    )
    book.apply_changes(
        LevelChange(side=side, price=_text(price), size=_text(size))  # type: ignore[arg-type]
        for side, price, size in updates
    )
    for side, price, size in updates:
        if size:
            reference[side][price] = size
        else:
            reference[side].pop(price, None)

    assert book.as_dicts() == (reference["bid"], reference["ask"])
    expected_bids = sorted(reference["bid"].items(), reverse=True)[:depth]
    expected_asks = sorted(reference["ask"].items())[:depth]
    got_bids, got_asks = book.top(depth)
    assert [(Decimal(lv.price), Decimal(lv.size)) for lv in got_bids] == expected_bids
    assert [(Decimal(lv.price), Decimal(lv.size)) for lv in got_asks] == expected_asks
    assert all("e" not in lv.price.lower() and not lv.size.endswith(".0") for lv in got_bids)
    best_bid = max(reference["bid"], default=None)
    best_ask = min(reference["ask"], default=None)
    crossed = best_bid is not None and best_ask is not None and best_bid >= best_ask
    assert book.is_crossed() == crossed
