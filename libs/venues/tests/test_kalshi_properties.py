"""Properties of the Kalshi parser's YES-leg books (hypothesis).

(a) A random snapshot and random deltas, parsed and applied as canonical events to
    `ssmd.venues.book.OrderBook`, give the book computed here independently, with Decimal,
    from the raw YES/NO increments (a size never goes below 0; a NO bid at q is an ask at 1-q).
(b) On valid input (best YES bid + best NO bid < 1) the canonical book is never crossed.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssmd.contracts.events import BookDelta, BookSnapshot
from ssmd.venues.book import OrderBook
from ssmd.venues.kalshi.parse import DataMark, KalshiParser

pytestmark = pytest.mark.unit

TICKER = "KXBTCD-26MAY2018-T100000"
ONE = Decimal(1)
# Prices as the venue prints them: 4 dp (0.0001 .. 0.9999), sizes as fixed-point 2 dp.
TICKS = st.integers(min_value=1, max_value=9999)
HUNDREDTHS = st.integers(min_value=0, max_value=1_000_000)
SIDE_LEVELS = st.dictionaries(TICKS, HUNDREDTHS, max_size=12)
DELTAS = st.lists(
    st.tuples(
        st.sampled_from(["yes", "no"]),
        TICKS,
        st.integers(min_value=-500_000, max_value=500_000),
    ),
    max_size=40,
)
Reference = dict[str, dict[Decimal, Decimal]]


def _price(ticks: int) -> str:
    return f"0.{ticks:04d}"


def _count(hundredths: int) -> str:
    sign = "-" if hundredths < 0 else ""
    return f"{sign}{abs(hundredths) // 100}.{abs(hundredths) % 100:02d}"


def _snapshot_frame(yes: dict[int, int], no: dict[int, int]) -> bytes:
    msg: dict[str, Any] = {"market_ticker": TICKER, "market_id": "m"}
    if yes:
        msg["yes_dollars_fp"] = [[_price(p), _count(c)] for p, c in yes.items()]
    if no:
        msg["no_dollars_fp"] = [[_price(p), _count(c)] for p, c in no.items()]
    return json.dumps({"type": "orderbook_snapshot", "sid": 1, "seq": 1, "msg": msg}).encode()


def _delta_frame(side: str, ticks: int, increment: int, seq: int) -> bytes:
    msg = {
        "market_ticker": TICKER,
        "market_id": "m",
        "side": side,
        "price_dollars": _price(ticks),
        "delta_fp": _count(increment),
        "ts_ms": 1_700_000_000_000 + seq,
    }
    return json.dumps({"type": "orderbook_delta", "sid": 1, "seq": seq, "msg": msg}).encode()


def _reference(yes: dict[int, int], no: dict[int, int]) -> Reference:
    """The venue's own bids-only book: side -> price -> size, in Decimal."""
    return {
        "yes": {Decimal(_price(p)): Decimal(_count(c)) for p, c in yes.items()},
        "no": {Decimal(_price(p)): Decimal(_count(c)) for p, c in no.items()},
    }


def _apply_reference(book: Reference, side: str, ticks: int, increment: int) -> bool:
    """Apply one increment; True when the size would have gone below zero (clamped)."""
    price = Decimal(_price(ticks))
    size = book[side].get(price, Decimal(0)) + Decimal(_count(increment))
    book[side][price] = max(size, Decimal(0))
    return size < 0


def _expected(book: Reference) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
    bids = {price: size for price, size in book["yes"].items() if size > 0}
    asks = {ONE - price: size for price, size in book["no"].items() if size > 0}
    return bids, asks


def _apply(book: OrderBook, events: list[Any]) -> None:
    for event in events:
        if isinstance(event, BookSnapshot):
            book.apply_snapshot_event(event)
        else:
            assert isinstance(event, BookDelta)
            book.apply_delta(event)


@settings(max_examples=300, deadline=None)
@given(yes=SIDE_LEVELS, no=SIDE_LEVELS, deltas=DELTAS)
def test_parsed_snapshot_and_deltas_rebuild_the_reference_book(
    yes: dict[int, int], no: dict[int, int], deltas: list[tuple[str, int, int]]
) -> None:
    parser = KalshiParser()
    book = OrderBook()
    reference = _reference(yes, no)
    _apply(book, parser.parse(_snapshot_frame(yes, no), 1).events)
    assert book.as_dicts() == _expected(reference)
    for seq, (side, ticks, increment) in enumerate(deltas, start=2):
        result = parser.parse(_delta_frame(side, ticks, increment, seq), 1)
        clamped = _apply_reference(reference, side, ticks, increment)
        _apply(book, result.events)
        assert book.as_dicts() == _expected(reference)
        assert isinstance(result.control, DataMark)
        assert result.control.issue == ("negative_size" if clamped else None)
        assert result.control.seq == seq


@st.composite
def _valid_books(draw: st.DrawFn) -> tuple[dict[int, int], dict[int, int]]:
    """YES and NO bids with best YES + best NO < 1 (in ticks: < 10000), sizes > 0."""
    best_yes = draw(st.integers(min_value=1, max_value=9998))
    best_no = draw(st.integers(min_value=1, max_value=9999 - best_yes))
    sizes = st.integers(min_value=1, max_value=1_000_000)
    yes = draw(st.dictionaries(st.integers(1, best_yes), sizes, max_size=8))
    no = draw(st.dictionaries(st.integers(1, best_no), sizes, max_size=8))
    yes[best_yes] = draw(sizes)
    no[best_no] = draw(sizes)
    return yes, no


@settings(max_examples=300, deadline=None)
@given(books=_valid_books(), deltas=DELTAS)
def test_valid_yes_and_no_bids_never_cross_the_canonical_book(
    books: tuple[dict[int, int], dict[int, int]], deltas: list[tuple[str, int, int]]
) -> None:
    yes, no = books
    parser = KalshiParser()
    (snapshot,) = parser.parse(_snapshot_frame(yes, no), 1).events
    assert isinstance(snapshot, BookSnapshot)
    assert Decimal(snapshot.bids[0].price) < Decimal(snapshot.asks[0].price)
    book = OrderBook()
    book.apply_snapshot_event(snapshot)
    reference = _reference(yes, no)
    for seq, (side, ticks, increment) in enumerate(deltas, start=2):
        _apply(book, parser.parse(_delta_frame(side, ticks, increment, seq), 1).events)
        _apply_reference(reference, side, ticks, increment)
        bids, asks = _expected(reference)
        if bids and asks and max(bids) + (ONE - min(asks)) < ONE:  # still valid input
            assert not book.is_crossed()
            assert book.best_bid is not None
            assert book.best_ask is not None
            assert Decimal(book.best_bid.price) < Decimal(book.best_ask.price)
