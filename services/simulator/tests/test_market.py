"""The synthetic market: uncrossed books, trades that take the touch, reproducible paths."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssmd.simulator.market import BookChange, MarketParams, SyntheticMarket, TradePrint, poisson

pytestmark = pytest.mark.unit

PARAMS = MarketParams(
    start_price_ticks=130_000,
    mean_trade_lots=500,
    volatility_ticks_per_sqrt_s=15.0,
    trade_rate_per_s=200.0,
    depth_levels=10,
    burst_probability_per_s=0.5,
    burst_mean_duration_s=1.0,
)


def _run(seed: int, steps: int, events: int = 40) -> list[list[object]]:
    market = SyntheticMarket(PARAMS, random.Random(seed))
    return [list(market.step(0.01, events)) for _ in range(steps)]


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=0, max_value=200))
def test_book_never_crosses_and_keeps_its_depth(seed: int, events: int) -> None:
    market = SyntheticMarket(PARAMS, random.Random(seed))
    mirror: dict[str, dict[int, int]] = {"bid": dict(market.bids), "ask": dict(market.asks)}
    for _ in range(50):
        for change in market.step(0.01, events):
            if isinstance(change, BookChange):
                if change.lots:
                    mirror[change.side][change.price_ticks] = change.lots
                else:
                    mirror[change.side].pop(change.price_ticks, None)
        assert mirror == {"bid": market.bids, "ask": market.asks}  # the changes tell all
        assert max(market.bids) < min(market.asks)
        assert len(market.bids) == len(market.asks) == PARAMS.depth_levels
        assert all(lots > 0 for lots in (*market.bids.values(), *market.asks.values()))


def test_a_trade_takes_size_at_the_touch() -> None:
    market = SyntheticMarket(PARAMS, random.Random(7))
    mirror: dict[str, dict[int, int]] = {"bid": dict(market.bids), "ask": dict(market.asks)}
    trades = 0
    for _ in range(200):
        outputs = market.step(0.01, 10)
        for index, output in enumerate(outputs):
            if isinstance(output, TradePrint):
                trades += 1
                side = "ask" if output.side == "buy" else "bid"
                book = mirror[side]
                touch = min(book) if side == "ask" else max(book)
                assert output.price_ticks == touch
                assert 0 < output.lots <= book[touch]
                follow = outputs[index + 1]
                assert follow == BookChange(side, touch, book[touch] - output.lots)
            elif output.lots:
                mirror[output.side][output.price_ticks] = output.lots
            else:
                mirror[output.side].pop(output.price_ticks, None)
    assert trades > 50


def test_same_seed_same_path_other_seed_other_path() -> None:
    assert _run(3, 100) == _run(3, 100)
    assert _run(3, 100) != _run(4, 100)


def test_poisson_draws_have_the_right_mean() -> None:
    rng = random.Random(1)
    for mean in (0.3, 4.0, 80.0):
        draws = [poisson(rng, mean) for _ in range(4000)]
        assert abs(sum(draws) / len(draws) - mean) < 0.1 * mean + 0.05
    assert poisson(rng, 0) == 0
