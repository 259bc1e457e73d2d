"""One binary market: the NO book mirrors the YES book, messages rebuild both exactly."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssmd.simulator.polymarket.markets import (
    Leg,
    MarketState,
    binary_market_params,
    start_price_ticks,
)
from ssmd.simulator.polymarket.symbols import market_ids
from ssmd.simulator.settings import SimulatorSettings

if TYPE_CHECKING:
    from conftest import Books

pytestmark = pytest.mark.unit
TS_MS = 1_700_000_000_000


def _market(
    slug: str = "mirror-test", *, seed: int = 1, start: int = 50, volatility: float = 0.6
) -> MarketState:
    sim_settings = SimulatorSettings.load(venue="polymarket", volatility_annual=volatility)
    params = binary_market_params(sim_settings, start_ticks=start, trade_rate_per_s=300.0)
    return MarketState(market_ids(slug), params, seed=seed, now_ns=0)


def _run(market: MarketState, steps: int, events: int, dt_s: float = 0.01) -> list[list[Any]]:
    """Messages of each step (custom ones included), decoded."""
    out = []
    for step in range(steps):
        data: list[Any] = []
        custom: list[Any] = []
        market.step(dt_s, events, TS_MS + step, data, custom)
        out.append([msgspec.json.decode(frame) for frame, _ in data + custom])
    return out


def _mirror(levels: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(str(1 - Decimal(price)), size) for price, size in levels]


def test_no_book_is_the_exact_mirror_of_the_yes_book() -> None:
    market = _market()
    _run(market, 50, 30)
    yes, no = market.token_book("yes"), market.token_book("no")
    assert no.bids == _mirror(yes.asks)
    assert no.asks == _mirror(yes.bids)
    assert (no.best_bid, no.best_ask) == (
        str(1 - Decimal(yes.best_ask)),
        str(1 - Decimal(yes.best_bid)),
    )
    assert yes.hash != no.hash
    assert all(Decimal("0.01") <= Decimal(p) <= Decimal("0.99") for p, _ in yes.bids + yes.asks)


def test_the_venue_book_follows_the_synthetic_market_exactly() -> None:
    market = _market()
    for _ in range(100):
        market.step(0.01, 40, TS_MS, [], [])
        assert market.bids == market.sim.bids
        assert market.asks == market.sim.asks
        assert market.best_bid == max(market.sim.bids)
        assert market.best_ask == min(market.sim.asks)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10_000),
    steps=st.integers(1, 40),
    events=st.integers(1, 60),
    start=st.integers(5, 95),
)
def test_book_then_price_changes_rebuild_both_tokens_with_consistent_tops(
    new_books: type[Books], seed: int, steps: int, events: int, start: int
) -> None:
    market = _market(seed=seed, start=start, volatility=6.0)
    books = new_books()
    for leg in ("yes", "no"):
        books.apply(msgspec.json.decode(market.book_message(leg, TS_MS)[0]))
    for messages in _run(market, steps, events, dt_s=0.05):
        for message in messages:
            books.apply(message)
            if message["event_type"] == "price_change":
                assets = [entry["asset_id"] for entry in message["price_changes"]]
                assert assets == list(market.ids.token_ids)
    assert books.mismatches == []
    legs: tuple[Leg, Leg] = ("yes", "no")
    for leg, asset in zip(legs, market.ids.token_ids, strict=True):
        truth = market.token_book(leg)
        bids, asks = books.books[asset].levels()
        assert bids == [list(level) for level in truth.bids]
        assert asks == [list(level) for level in truth.asks]


def test_hash_is_the_book_states_and_agrees_with_the_last_price_change() -> None:
    market, twin = _market(seed=7), _market(seed=7)
    messages = [m for step in _run(market, 30, 20) for m in step]
    _run(twin, 30, 20)
    last = next(m for m in reversed(messages) if m["event_type"] == "price_change")
    yes_entry, no_entry = last["price_changes"]
    assert yes_entry["hash"] == market.token_hash("yes")
    assert no_entry["hash"] == market.token_hash("no")
    book = msgspec.json.decode(market.book_message("yes", TS_MS)[0])
    assert book["hash"] == market.token_hash("yes") == twin.token_hash("yes")
    hashes = [m["price_changes"][0]["hash"] for m in messages if m["event_type"] == "price_change"]
    assert len(set(hashes)) > len(hashes) // 2  # the state changes, so does its hash


def test_trades_print_on_both_tokens_and_take_the_level_shown_next() -> None:
    market = _market(seed=11)
    data: list[Any] = []
    for step in range(400):
        market.step(0.02, 30, TS_MS + step, data, [])
    yes, no = market.ids.token_ids
    trades = legs = 0
    for (frame, record), (following, _) in itertools.pairwise(data):
        message = msgspec.json.decode(frame)
        if message["event_type"] != "last_trade_price":
            continue
        trades += 1
        change = msgspec.json.decode(following)
        assert change["event_type"] == "price_change"
        entry = next(e for e in change["price_changes"] if e["asset_id"] == message["asset_id"])
        # A taker BUY takes the token's ask; a SELL its bid: the same price, the other side.
        assert entry["price"] == message["price"]
        assert entry["side"] == ("SELL" if message["side"] == "BUY" else "BUY")
        leg = "yes" if message["asset_id"] == yes else "no"
        assert message["asset_id"] in (yes, no)
        assert record.detail == leg
        assert (record.uid, record.price, record.qty) == (
            message["transaction_hash"],
            message["price"],
            message["size"],
        )
        assert message["fee_rate_bps"] == "0"
        assert len(message["transaction_hash"]) == 66
        legs += leg == "no"
    assert trades > 100
    assert 0.12 < legs / trades < 0.40


def test_best_bid_ask_comes_for_both_tokens_only_when_the_top_moved() -> None:
    market = _market(seed=5)
    market.ensure_book()
    previous = (market.best_bid, market.best_ask)
    moves = 0
    for step in range(200):
        custom: list[Any] = []
        market.step(0.01, 10, TS_MS + step, [], custom)
        top = (market.best_bid, market.best_ask)
        if top == previous:
            assert custom == []
            continue
        moves += 1
        yes, no = (msgspec.json.decode(frame) for frame, _ in custom)
        assert (Decimal(yes["best_bid"]), Decimal(yes["best_ask"])) == (
            Decimal(top[0]) / 100,
            Decimal(top[1]) / 100,
        )
        assert Decimal(no["best_bid"]) == 1 - Decimal(yes["best_ask"])
        assert Decimal(no["best_ask"]) == 1 - Decimal(yes["best_bid"])
        assert Decimal(yes["spread"]) == Decimal(yes["best_ask"]) - Decimal(yes["best_bid"])
        previous = top
    assert moves > 5


def test_tick_size_changes_when_the_price_nears_zero_and_back() -> None:
    market = _market(seed=2, start=6, volatility=10.0)
    changes = []
    for step in range(3000):
        data: list[Any] = []
        market.step(0.05, 5, TS_MS + step, data, [])
        for frame, _ in data:
            message = msgspec.json.decode(frame)
            if message["event_type"] == "tick_size_change":
                changes.append((message, market.best_bid + market.best_ask))
        if len(changes) >= 4:
            break
    assert len(changes) >= 4, "the price never went below 0.04 and back"
    for (entering, mid2), (also, _) in zip(changes[::4], changes[1::4], strict=False):
        assert (entering["old_tick_size"], entering["new_tick_size"]) == ("0.01", "0.001")
        assert mid2 < 8  # midpoint below 0.04
        assert {entering["asset_id"], also["asset_id"]} == set(market.ids.token_ids)
    leaving = changes[2][0]
    assert (leaving["old_tick_size"], leaving["new_tick_size"]) == ("0.001", "0.01")
    assert 8 <= changes[2][1] <= 192


def test_a_pending_skip_leaves_out_price_changes_but_not_book_changes() -> None:
    market = _market(seed=9)
    market.skip_pending = 5
    data: list[Any] = []
    skipped = market.step(0.01, 40, TS_MS, data, [])
    assert skipped == 5
    assert market.skip_pending == 0
    assert market.bids == market.sim.bids
    assert market.asks == market.sim.asks


def test_start_price_is_seeded_per_market() -> None:
    assert start_price_ticks(1, "a") == start_price_ticks(1, "a")
    starts = {start_price_ticks(1, f"m-{n}") for n in range(50)}
    assert len(starts) > 10
    assert all(10 <= ticks <= 90 for ticks in starts)
