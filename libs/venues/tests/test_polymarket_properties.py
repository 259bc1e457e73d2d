"""Property tests of the Polymarket parser: books, NO-leg mirroring, mismatch detection.

Expected values come from a reference computed here with Decimal from the generated wire
data, never from the parser.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssmd.contracts.events import BookDelta, BookSnapshot, Quote
from ssmd.venues.book import OrderBook
from ssmd.venues.polymarket.parse import BookMismatch, PolymarketParser
from ssmd.venues.polymarket.tokens import MarketTokens, TokenIndex
from ssmd.venues.polymarket.wire import complement, mirror_top, price_text

pytestmark = pytest.mark.unit

CID = "0x" + "12" * 32
YES, NO = "1001", "1002"
TS = "1757908892351"
MILS = st.integers(min_value=1, max_value=999)
"""Prices on the 0.001 grid, as integer thousandths."""


@st.composite
def price_texts(draw: st.DrawFn, mils: st.SearchStrategy[int] = MILS) -> tuple[int, str]:
    """A price and one of the ways the venue may print it ("0.5", "0.50", ".5")."""
    value = draw(mils)
    plain = format(Decimal(value) / 1000, "f").rstrip("0")
    text = draw(st.sampled_from([plain, plain + "0", plain[1:]]))
    return value, text


@st.composite
def size_texts(draw: st.DrawFn, *, allow_zero: bool = True) -> tuple[Decimal, str]:
    cents = draw(st.integers(min_value=0 if allow_zero else 1, max_value=10**7))
    value = Decimal(cents) / 100
    text = draw(
        st.sampled_from(
            [format(value.quantize(Decimal("0.01")), "f"), format(value.normalize(), "f")]
        )
    )
    return value, text


def _parser() -> PolymarketParser:
    return PolymarketParser(TokenIndex([MarketTokens(CID, None, YES, NO)]))


def _levels(levels: list[tuple[tuple[int, str], tuple[Decimal, str]]]) -> list[dict[str, str]]:
    return [{"price": price, "size": size} for (_, price), (_, size) in levels]


def _book_frame(bids: Any, asks: Any) -> bytes:
    message = {
        "event_type": "book",
        "market": CID,
        "asset_id": YES,
        "timestamp": TS,
        "bids": _levels(bids),
        "asks": _levels(asks),
    }
    return json.dumps(message).encode()


def _reference(bids: Any, asks: Any) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
    sides: tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]] = ({}, {})
    for side, levels in zip(sides, (bids, asks), strict=True):
        for (mils, _), (size, _) in levels:
            side[Decimal(mils) / 1000] = size
        for price in [p for p, s in side.items() if s == 0]:
            del side[price]
    return sides


def _apply(
    reference: tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]],
    side: str,
    mils: int,
    size: Decimal,
) -> None:
    levels = reference[0] if side == "BUY" else reference[1]
    if size == 0:
        levels.pop(Decimal(mils) / 1000, None)
    else:
        levels[Decimal(mils) / 1000] = size


book_sides = st.lists(
    st.tuples(price_texts(), size_texts()), max_size=25, unique_by=lambda level: level[0][0]
)
"""One side of a ``book``: distinct prices (the venue never repeats one), sizes maybe 0."""
entries = st.tuples(
    st.sampled_from([YES, NO]), st.sampled_from(["BUY", "SELL"]), price_texts(), size_texts()
)


@settings(max_examples=150, deadline=None)
@given(
    book_sides,
    book_sides,
    st.lists(st.tuples(st.booleans(), st.lists(entries, min_size=1, max_size=6)), max_size=12),
)
def test_events_rebuild_the_yes_book_exactly(bids: Any, asks: Any, frames: Any) -> None:
    """(a) book + price_changes through the parser, events into OrderBook == reference."""
    parser = _parser()
    reference = _reference(bids, asks)
    book = OrderBook()
    [snapshot] = parser.parse(_book_frame(bids, asks), 1).events
    assert isinstance(snapshot, BookSnapshot)
    book.apply_snapshot_event(snapshot)
    for old_format, changes in frames:
        yes_changes = [c for c in changes if c[0] == YES]
        if old_format and yes_changes:  # old format: one asset, top-level asset_id
            message: dict[str, Any] = {
                "event_type": "price_change",
                "market": CID,
                "timestamp": TS,
                "asset_id": YES,
                "changes": [
                    {"price": p[1], "side": side, "size": s[1]} for _, side, p, s in yes_changes
                ],
            }
        else:
            message = {
                "event_type": "price_change",
                "market": CID,
                "timestamp": TS,
                "price_changes": [
                    {"asset_id": asset, "price": p[1], "side": side, "size": s[1]}
                    for asset, side, p, s in changes
                ],
            }
        events = parser.parse(json.dumps(message).encode(), 1).events
        for _, side, (mils, _), (size, _) in yes_changes:
            _apply(reference, side, mils, size)
        assert len(events) == (1 if yes_changes else 0)
        for event in events:
            assert isinstance(event, BookDelta)
            book.apply_delta(event)
    assert book.as_dicts() == reference
    local = parser.local_book(CID)
    assert local is not None
    assert local.as_dicts() == reference


no_sides = st.one_of(st.none(), MILS)


@settings(max_examples=300, deadline=None)
@given(no_sides, no_sides)
def test_a_valid_no_top_of_book_never_mirrors_into_a_crossed_yes_quote(
    bid_mils: int | None, ask_mils: int | None
) -> None:
    """(b) NO bid < NO ask -> YES bid < YES ask; mirroring twice is the identity."""
    if bid_mils is not None and ask_mils is not None and bid_mils >= ask_mils:
        bid_mils, ask_mils = min(bid_mils, ask_mils), max(bid_mils, ask_mils) + 1
        if ask_mils > 999:
            bid_mils, ask_mils = 998, 999
    no_bid = "0" if bid_mils is None else format(Decimal(bid_mils) / 1000, "f")
    no_ask = "1" if ask_mils is None else format(Decimal(ask_mils) / 1000, "f")
    message = {
        "event_type": "best_bid_ask",
        "market": CID,
        "asset_id": NO,
        "best_bid": no_bid,
        "best_ask": no_ask,
        "timestamp": TS,
    }
    [quote] = _parser().parse(json.dumps(message).encode(), 1).events
    assert isinstance(quote, Quote)
    assert (quote.bid_price is None, quote.ask_price is None) == (
        ask_mils is None,
        bid_mils is None,
    )
    if quote.bid_price is not None and quote.ask_price is not None:
        assert Decimal(quote.bid_price) < Decimal(quote.ask_price)
    if quote.bid_price is not None:
        assert Decimal(quote.bid_price) == 1 - Decimal(no_ask)
    canonical = (
        None if bid_mils is None else price_text(no_bid),
        None if ask_mils is None else price_text(no_ask),
    )
    assert mirror_top(*mirror_top(*canonical)) == canonical


@given(MILS)
def test_complement_is_exact_and_an_involution(mils: int) -> None:
    price = price_text(format(Decimal(mils) / 1000, "f"))
    assert Decimal(complement(price)) == 1 - Decimal(price)
    assert complement(complement(price)) == price


tops = st.tuples(st.one_of(st.none(), MILS), st.one_of(st.none(), MILS))


@settings(max_examples=200, deadline=None)
@given(
    book_sides, book_sides, st.lists(entries, min_size=1, max_size=6), st.one_of(st.none(), tops)
)
def test_book_mismatch_is_reported_exactly_when_the_venue_top_differs(
    bids: Any, asks: Any, changes: Any, claimed: Any
) -> None:
    """(c) the last YES entry claims the true top (claimed None) or a random one."""
    yes_changes = [c for c in changes if c[0] == YES]
    if not yes_changes:
        changes = [(YES, *changes[0][1:]), *changes]
        yes_changes = [changes[0]]
    parser = _parser()
    parser.parse(_book_frame(bids, asks), 1)
    reference = _reference(bids, asks)
    for _, side, (mils, _), (size, _) in yes_changes:
        _apply(reference, side, mils, size)
    true_top = (max(reference[0], default=None), min(reference[1], default=None))
    venue_top = (
        true_top
        if claimed is None
        else tuple(None if m is None else Decimal(m) / 1000 for m in claimed)
    )
    bid_text = "0" if venue_top[0] is None else format(venue_top[0], "f")
    ask_text = "1" if venue_top[1] is None else format(venue_top[1], "f")
    last_yes = max(i for i, c in enumerate(changes) if c[0] == YES)
    entries_out = []
    for i, (asset, side, price, size) in enumerate(changes):
        entry = {"asset_id": asset, "price": price[1], "side": side, "size": size[1]}
        if i == last_yes:
            entry |= {"best_bid": bid_text, "best_ask": ask_text}
        elif asset == NO:  # NO entries carry the NO token's top: never compared
            entry |= {"best_bid": "0.001", "best_ask": "0.002"}
        entries_out.append(entry)
    message = {
        "event_type": "price_change",
        "market": CID,
        "timestamp": TS,
        "price_changes": entries_out,
    }
    result = parser.parse(json.dumps(message).encode(), 1)
    mismatches = [] if result.control is None else result.control.of_type(BookMismatch)
    assert bool(mismatches) == (venue_top != true_top)
    if mismatches:
        [mismatch] = mismatches
        assert (mismatch.venue_best_bid, mismatch.venue_best_ask) == tuple(
            None if v is None else price_text(format(v, "f")) for v in venue_top
        )
        assert (mismatch.local_best_bid, mismatch.local_best_ask) == tuple(
            None if v is None else price_text(format(v, "f")) for v in true_top
        )
