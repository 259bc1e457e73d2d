"""The live stores: recent trades bounded by window and cap; feed rows, rates, gaps, lag."""

from __future__ import annotations

from ssmd.core.clock import SimulatedClock
from ssmd.gateway.archive import TradeRow
from ssmd.gateway.live import FeedBoard, RecentTrades

S = 1_000_000_000
T0 = 1_714_564_800 * S


def row(ts: int, msg_id: str) -> TradeRow:
    return (ts, None, "1", "1", "buy", None, msg_id)


def test_recent_trades_answer_a_market_and_range() -> None:
    clock = SimulatedClock(T0)
    recent = RecentTrades(window_s=120, max_trades=100, clock=clock)
    recent.add("v:A", row(T0 - 5, "a1"), T0)
    recent.add("v:B", row(T0 - 4, "b1"), T0)
    recent.add("v:A", row(T0 - 3, "a2"), T0)
    assert [r[6] for r in recent.between("v:A", T0 - 10, T0)] == ["a1", "a2"]
    assert [r[6] for r in recent.between("v:A", T0 - 4, T0)] == ["a2"]
    assert recent.between("v:A", T0 - 10, T0 - 5) == []  # end is exclusive
    assert recent.between("v:C", 0, T0) == []
    assert len(recent) == 3
    assert recent.markets == 2


def test_recent_trades_forget_what_left_the_window() -> None:
    clock = SimulatedClock(T0)
    recent = RecentTrades(window_s=120, max_trades=100, clock=clock)
    recent.add("v:A", row(T0, "old"), T0)
    clock.advance(121)
    recent.add("v:B", row(T0 + 121 * S, "new"), T0 + 121 * S)
    assert recent.between("v:A", 0, T0 + 200 * S) == []
    assert recent.markets == 1
    assert recent.evicted == 0  # aged out, not evicted by the cap


def test_recent_trades_cap_drops_the_oldest_first_and_counts_it() -> None:
    clock = SimulatedClock(T0)
    recent = RecentTrades(window_s=120, max_trades=3, clock=clock)
    for i, market in enumerate(["v:A", "v:B", "v:A", "v:B", "v:A"]):
        recent.add(market, row(T0 + i, f"{market}-{i}"), T0 + i)
    assert len(recent) == 3
    assert recent.evicted == 2
    assert [r[6] for r in recent.between("v:A", 0, T0 + 10)] == ["v:A-2", "v:A-4"]
    assert [r[6] for r in recent.between("v:B", 0, T0 + 10)] == ["v:B-3"]


def test_feed_rows_report_last_times_rate_lag_and_delay() -> None:
    clock = SimulatedClock(T0)
    board = FeedBoard(max_rows=10, clock=clock)
    key = ("kalshi", "trade", "kalshi:X")
    # 90 events, one per second, received 50 ms after the venue stamped them.
    for i in range(90):
        board.event(key, T0 - (90 - i) * S - 50_000_000, T0 - (90 - i) * S)
    clock.advance(2)
    [status] = board.snapshot()
    assert (status.venue, status.channel, status.market) == key
    assert status.events == 90
    assert status.events_last_minute == 57  # received in the last 60 whole seconds
    assert status.last_ts_recv_ns == T0 - S
    assert status.lag_s == 3.0
    assert status.venue_delay_s == 0.05
    assert status.gaps == 0


def test_gaps_count_against_the_feed_they_name_and_filters_select_rows() -> None:
    clock = SimulatedClock(T0)
    board = FeedBoard(max_rows=10, clock=clock)
    board.event(("kalshi", "book", "kalshi:X"), T0, T0)
    board.gap(("kalshi", "book", "kalshi:X"), T0 + 1)
    board.gap(("kalshi", "book", "kalshi:X"), T0 + 2)
    board.event(("kraken_futures", "trade", "kraken_futures:PF_XBTUSD"), T0, T0)
    assert [s.gaps for s in board.snapshot(channel="book")] == [2]
    assert board.snapshot(channel="book")[0].last_gap_ns == T0 + 2
    assert [s.venue for s in board.snapshot()] == ["kalshi", "kraken_futures"]
    assert [s.market for s in board.snapshot(venue="kraken_futures")] == [
        "kraken_futures:PF_XBTUSD"
    ]
    assert board.snapshot(market="kalshi:Y") == []


def test_a_gap_before_any_event_has_no_times() -> None:
    board = FeedBoard(max_rows=10, clock=SimulatedClock(T0))
    board.gap(("kalshi", "book", "kalshi:X"), T0)
    [status] = board.snapshot()
    assert status.last_ts_recv_ns is None
    assert status.lag_s is None
    assert status.gaps == 1


def test_feed_board_drops_the_least_recently_updated_row_past_its_cap() -> None:
    board = FeedBoard(max_rows=2, clock=SimulatedClock(T0))
    board.event(("v", "trade", "v:A"), T0, T0)
    board.event(("v", "trade", "v:B"), T0, T0)
    board.event(("v", "trade", "v:A"), T0, T0)  # A is now the most recent
    board.event(("v", "trade", "v:C"), T0, T0)
    assert [s.market for s in board.snapshot()] == ["v:A", "v:C"]
    assert board.evicted == 1
