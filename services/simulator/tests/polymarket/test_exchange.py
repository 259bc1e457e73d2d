"""The Polymarket exchange's data loop without sockets: determinism and the event budget."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from ssmd.core.clock import SimulatedClock
from ssmd.simulator.ledger import Ledger
from ssmd.simulator.metrics import SimulatorMetrics
from ssmd.simulator.polymarket.exchange import Keyed, PolymarketExchange
from ssmd.simulator.settings import SimulatorSettings

pytestmark = pytest.mark.unit

START_NS = 1_700_000_000_000_000_000
STEP_NS = 10_000_000


def _exchange(**overrides: Any) -> PolymarketExchange:
    settings = SimulatorSettings.load(venue="polymarket", **overrides)
    return PolymarketExchange(
        settings,
        clock=SimulatedClock(START_NS),
        ledger=Ledger(100),
        metrics=SimulatorMetrics(CollectorRegistry()),
    )


def _steps(exchange: PolymarketExchange, count: int) -> list[Keyed]:
    out: list[Keyed] = []
    for n in range(1, count + 1):
        exchange.step(START_NS + n * STEP_NS, out)
    return out


def test_the_same_seed_gives_the_same_frames_and_another_seed_others() -> None:
    first = _steps(_exchange(events_per_s=5000.0, seed=4), 50)
    again = _steps(_exchange(events_per_s=5000.0, seed=4), 50)
    other = _steps(_exchange(events_per_s=5000.0, seed=5), 50)
    assert len(first) > 500
    assert first == again
    assert [frame for _, _, frame, _ in first] != [frame for _, _, frame, _ in other]


def test_a_small_budget_is_dealt_round_robin_over_many_markets() -> None:
    exchange = _exchange(events_per_s=200.0, markets=[f"m-{n}" for n in range(100)])
    stepped: set[int] = set()
    for n in range(1, 51):  # two events per step: two markets step each time
        exchange.step(START_NS + n * STEP_NS, [])
        stepped = {
            index
            for index, listing in enumerate(exchange.catalog.listings)
            if listing.market.last_step_ns > START_NS
        }
        assert len(stepped) == min(100, 2 * n)
    assert stepped == set(range(100))


def test_arrays_hold_one_market_step_and_custom_messages_stay_single() -> None:
    out = _steps(_exchange(events_per_s=5000.0), 40)
    arrays = [item for item in out if item[2].startswith(b"[")]
    singles = [item for item in out if item[2].startswith(b"{")]
    assert arrays
    assert singles
    for market, custom, frame, records in arrays:
        assert not custom
        assert isinstance(records, list)
        assert len(records) == frame.count(b'"event_type"') > 1
        assert {record.product for record in records} == {market}
    assert all(item[2].startswith(b"{") for item in out if item[1])
