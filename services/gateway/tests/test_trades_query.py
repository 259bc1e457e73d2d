"""The trade query: validation, hour-by-hour archive reads, tail merge and dedup, order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from ssmd.contracts.events import Trade, event_msg_id
from ssmd.core.clock import SimulatedClock
from ssmd.gateway.archive import ArchiveReader
from ssmd.gateway.live import RecentTrades
from ssmd.gateway.metrics import GatewayMetrics
from ssmd.gateway.params import ParameterError
from ssmd.gateway.settings import GatewaySettings
from ssmd.gateway.trades import TradeQueries, TradeQuery

MARKET = "kraken_futures:PF_XBTUSD"
H = 3_600_000_000_000
T0 = 1_714_564_800_000_000_000  # 2024-05-01T12:00:00Z


class Setup:
    def __init__(self, archive_dir: Path, kit: Any) -> None:
        self.kit = kit
        self.archive_dir = archive_dir
        self.clock = SimulatedClock(T0 + 48 * H)
        self.settings = GatewaySettings(
            archive_dir=archive_dir,
            venues=("kraken_futures", "kalshi"),
            default_limit=100,
            max_limit=500,
        )
        self.reader = ArchiveReader(workers=2, timeout_s=10)
        self.recent = RecentTrades(window_s=1e9, max_trades=10_000, clock=self.clock)
        self.registry = CollectorRegistry()
        self.queries = TradeQueries(
            self.settings, self.reader, self.recent, self.clock, GatewayMetrics(self.registry)
        )

    def tail(self, *events: Trade) -> None:
        for event in events:
            row = (
                event.ts_event_ns,
                event.seq,
                event.price,
                event.size,
                event.side,
                event.trade_id,
                event_msg_id(event),
            )
            self.recent.add(event.market, row, event.ts_recv_ns)

    def query(self, start: int, end: int, limit: int = 100) -> TradeQuery:
        return self.queries.query(MARKET, str(start), str(end), limit)


@pytest.fixture
def setup(archive_dir: Path, kit: Any) -> Iterator[Setup]:
    built = Setup(archive_dir, kit)
    yield built
    built.reader.close()


async def test_archive_and_tail_merge_in_order_and_dedup_by_msg_id(setup: Setup) -> None:
    trade = setup.kit.trade
    archived = [trade(T0 + i * 10, seq=i, trade_id=f"t{i}") for i in range(5)]
    setup.kit.write_archive(setup.archive_dir, archived)
    # The tail still holds the last two archived trades and has three newer ones.
    newer = [trade(T0 + 45 + i, seq=10 + i) for i in range(3)]
    setup.tail(*archived[3:], *newer)
    result = await setup.queries.answer(setup.query(T0, T0 + H))
    answer = result.answer
    assert [t.seq for t in answer.trades] == [0, 1, 2, 3, 4, 10, 11, 12]
    assert (answer.sources.archive, answer.sources.tail) == (5, 3)
    assert answer.count == 8
    assert not answer.truncated
    assert answer.trades[0].ts_event == "2024-05-01T12:00:00.000000000Z"
    assert answer.trades[0].trade_id == "t0"
    assert result.files_read == 1


async def test_tail_trades_interleave_with_archive_trades_by_time(setup: Setup) -> None:
    trade = setup.kit.trade
    setup.kit.write_archive(setup.archive_dir, [trade(T0 + 10, seq=1), trade(T0 + 30, seq=3)])
    setup.tail(trade(T0 + 20, seq=2), trade(T0 + 40, seq=4))
    answer = (await setup.queries.answer(setup.query(T0, T0 + H))).answer
    assert [t.seq for t in answer.trades] == [1, 2, 3, 4]


async def test_limit_truncates_and_says_so(setup: Setup) -> None:
    trade = setup.kit.trade
    setup.kit.write_archive(setup.archive_dir, [trade(T0 + i, seq=i) for i in range(10)])
    answer = (await setup.queries.answer(setup.query(T0, T0 + H, limit=4))).answer
    assert [t.seq for t in answer.trades] == [0, 1, 2, 3]
    assert answer.truncated
    exact = (await setup.queries.answer(setup.query(T0, T0 + H, limit=10))).answer
    assert exact.count == 10
    assert not exact.truncated


async def test_a_long_range_stops_reading_hours_once_the_limit_is_reached(setup: Setup) -> None:
    trade = setup.kit.trade
    # 24 hours with 3 trades each: limit 5 needs the first two hours only (1 + 2 hours read).
    events = [trade(T0 + h * H + i, seq=h * 10 + i) for h in range(24) for i in range(3)]
    setup.kit.write_archive(setup.archive_dir, events)
    result = await setup.queries.answer(setup.query(T0, T0 + 24 * H, limit=5))
    assert [t.seq for t in result.answer.trades] == [0, 1, 2, 10, 11]
    assert result.files_read == 3
    assert result.queries == 2
    whole = await setup.queries.answer(setup.query(T0, T0 + 24 * H, limit=500))
    assert whole.answer.count == 72
    assert whole.files_read == 24


async def test_tail_rows_count_toward_the_early_stop(setup: Setup) -> None:
    trade = setup.kit.trade
    setup.kit.write_archive(setup.archive_dir, [trade(T0 + 5 * H, seq=50)])
    setup.tail(*[trade(T0 + i, seq=i) for i in range(3)])
    answer = (await setup.queries.answer(setup.query(T0, T0 + 6 * H, limit=2))).answer
    assert [t.seq for t in answer.trades] == [0, 1]
    assert answer.sources.tail == 2


async def test_unknown_market_answers_no_trades(setup: Setup) -> None:
    setup.kit.write_archive(setup.archive_dir, [setup.kit.trade(T0)])
    query = setup.queries.query("kraken_futures:NOPE", str(T0), str(T0 + H), None)
    answer = (await setup.queries.answer(query)).answer
    assert (answer.market, answer.count, answer.trades) == ("kraken_futures:NOPE", 0, [])


def test_end_defaults_to_now_and_limit_to_the_default(setup: Setup) -> None:
    query = setup.queries.query(MARKET, str(T0), None, None)
    assert query.end_ns == setup.clock.now_ns()
    assert query.limit == setup.settings.default_limit


@pytest.mark.parametrize(
    "case",
    [
        ("binance:BTC", str(T0), None, None, "market", "unknown venue 'binance'"),
        (MARKET, str(T0 + H), str(T0), None, "start", "must be before end"),
        (MARKET, str(T0), str(T0), None, "start", "must be before end"),
        (MARKET, str(T0), None, 501, "limit", "more than the maximum 500"),
        (MARKET, str(T0), None, 0, "limit", "at least 1"),
        (MARKET, "soon", None, None, "start", "neither ISO-8601"),
        (MARKET, str(T0), "2024-05-01T25:00", None, "end", "not a valid time"),
        (MARKET, "2020-01-01", "2024-01-01", None, "end", "at most"),
    ],
)
def test_bad_requests_name_the_parameter(
    setup: Setup, case: tuple[str, str, str | None, int | None, str, str]
) -> None:
    market, start, end, limit, parameter, reason = case
    with pytest.raises(ParameterError) as caught:
        setup.queries.query(market, start, end, limit)
    assert caught.value.parameter == parameter
    assert reason in caught.value.reason
