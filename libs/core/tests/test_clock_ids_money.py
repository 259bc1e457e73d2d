"""Clock, ids and money: the small value types everything else relies on."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssmd.core.clock import Clock, LiveClock, SimulatedClock
from ssmd.core.errors import BadInputError
from ssmd.core.ids import content_id, id_time_ms, new_id
from ssmd.core.money import Money, quantize, to_decimal

pytestmark = pytest.mark.unit


def test_live_clock_reads_system_time() -> None:
    clock: Clock = LiveClock()
    before = time.time_ns()
    assert before <= clock.now_ns() <= time.time_ns()


async def test_simulated_sleepers_wake_in_deadline_order() -> None:
    clock = SimulatedClock(start_ns=1_000)
    woke: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(name)

    tasks = [asyncio.create_task(sleeper("late", 2.0)), asyncio.create_task(sleeper("soon", 1.0))]
    await asyncio.sleep(0)
    assert clock.pending_sleepers == 2
    clock.advance(1.5)
    await asyncio.sleep(0)
    assert woke == ["soon"]
    clock.advance(0.5)
    await asyncio.gather(*tasks)
    assert woke == ["soon", "late"]
    assert clock.now_ns() == 1_000 + 2_000_000_000


def test_simulated_clock_never_goes_backwards() -> None:
    clock = SimulatedClock(start_ns=10)
    with pytest.raises(ValueError, match="backwards"):
        clock.set_ns(5)


def test_new_ids_are_unique_and_time_sortable() -> None:
    first = new_id(now_ms=1_700_000_000_000)
    second = new_id(now_ms=1_700_000_000_001)
    assert len(first) == 26
    assert first < second
    assert id_time_ms(first) == 1_700_000_000_000
    assert len({new_id() for _ in range(2_000)}) == 2_000


def test_content_id_is_deterministic_and_part_boundaries_matter() -> None:
    assert content_id("kalshi", "X", 7) == content_id("kalshi", "X", "7")
    assert content_id("ab", "c") != content_id("a", "bc")
    assert len(content_id("x")) == 32


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_to_decimal_round_trips_text_exactly(value: Decimal) -> None:
    assert to_decimal(str(value)) == value


@pytest.mark.parametrize("bad", [0.1, "NaN", "inf", "abc", True, None])
def test_to_decimal_rejects_floats_and_non_finite(bad: object) -> None:
    with pytest.raises(BadInputError):
        to_decimal(bad)  # type: ignore[arg-type]


def test_money_is_exact_and_refuses_mixed_currencies() -> None:
    total = Money.of("0.1", "USD") + Money.of("0.2", "USD")
    assert total == Money.of("0.3", "USD")
    assert str(total.times("3")) == "0.9 USD"
    with pytest.raises(BadInputError, match="currency mismatch"):
        _ = Money.of("1", "USD") + Money.of("1", "EUR")


def test_quantize_to_tick_half_even() -> None:
    assert quantize(Decimal("0.125"), Decimal("0.01")) == Decimal("0.12")
    assert quantize(Decimal("0.135"), Decimal("0.01")) == Decimal("0.14")
    assert quantize(Decimal("101.3"), Decimal("0.5")) == Decimal("101.5")


def test_local_histogram_buckets_are_cumulative_prometheus_le() -> None:
    from ssmd.core.metrics import LocalHistogram

    histogram = LocalHistogram((0.001, 0.01))
    for value in (0.0005, 0.001, 0.005, 2.0):
        histogram.observe(value)
    assert histogram.buckets() == [("0.001", 2.0), ("0.01", 3.0), ("+Inf", 4.0)]
    assert histogram.total == pytest.approx(2.0065)
    with pytest.raises(ValueError, match="ascending"):
        LocalHistogram((0.1, 0.01))
