"""What the gateway keeps in memory from the JetStream tail: recent trades and feed health.

`RecentTrades` holds the trades of the last ``tail_window_s`` per market, so /v1/trades can
add what the archiver has not flushed yet. `FeedBoard` holds one row per (venue, channel,
market) for /v1/feeds: last event and receive times, a one-minute rate and gap counts.
Both are bounded (a total trade cap with oldest-first eviction; a row cap with the least
recently updated row dropped) and both count what they evict. They are touched only from
the event loop, so they need no locks.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from ssmd.core.clock import Clock
from ssmd.gateway.archive import TradeRow

NS_PER_S: Final = 1_000_000_000
RATE_WINDOW_S: Final = 60


class RecentTrades:
    """Trades from the tail, per market, for at most `window_s` and `max_trades` in all."""

    def __init__(self, *, window_s: float, max_trades: int, clock: Clock) -> None:
        if max_trades < 1:
            raise ValueError("max_trades must be >= 1")
        self._window_ns = round(window_s * NS_PER_S)
        self._max = max_trades
        self._clock = clock
        self._by_market: dict[str, deque[TradeRow]] = {}
        # Every held trade in arrival order, (ts_recv_ns, market): the eviction queue.
        self._arrivals: deque[tuple[int, str]] = deque()
        self.evicted = 0  # dropped by the cap before their window ended

    def __len__(self) -> int:
        return len(self._arrivals)

    @property
    def markets(self) -> int:
        return len(self._by_market)

    def add(self, market: str, row: TradeRow, ts_recv_ns: int) -> None:
        """Hold one trade; drop what fell out of the window, then the oldest past the cap."""
        rows = self._by_market.get(market)
        if rows is None:
            rows = self._by_market[market] = deque()
        rows.append(row)
        self._arrivals.append((ts_recv_ns, market))
        horizon = self._clock.now_ns() - self._window_ns
        arrivals = self._arrivals
        while arrivals and arrivals[0][0] < horizon:
            self._drop_oldest()
        while len(arrivals) > self._max:
            self._drop_oldest()
            self.evicted += 1

    def _drop_oldest(self) -> None:
        _, market = self._arrivals.popleft()
        rows = self._by_market[market]
        rows.popleft()  # a market's own rows are in arrival order too
        if not rows:
            del self._by_market[market]

    def between(self, market: str, start_ns: int, end_ns: int) -> list[TradeRow]:
        """The held trades of `market` with ``start_ns <= ts_event_ns < end_ns``."""
        rows = self._by_market.get(market)
        if not rows:
            return []
        return [row for row in rows if start_ns <= row[0] < end_ns]


class _FeedRow:
    """One (venue, channel, market) row; rate kept as 60 per-second buckets."""

    __slots__ = (
        "counts",
        "events",
        "gaps",
        "last_gap_ns",
        "last_ts_event_ns",
        "last_ts_recv_ns",
        "seconds",
    )

    def __init__(self) -> None:
        self.last_ts_event_ns = 0
        self.last_ts_recv_ns = 0
        self.events = 0
        self.gaps = 0
        self.last_gap_ns = 0
        self.seconds = [-1] * RATE_WINDOW_S  # which second each bucket counts
        self.counts = [0] * RATE_WINDOW_S

    def count(self, ts_recv_ns: int) -> None:
        second = ts_recv_ns // NS_PER_S
        slot = second % RATE_WINDOW_S
        if self.seconds[slot] != second:
            if self.seconds[slot] > second:
                return  # older than what the bucket now counts: outside any live minute
            self.seconds[slot] = second
            self.counts[slot] = 0
        self.counts[slot] += 1

    def last_minute(self, now_ns: int) -> int:
        now_s = now_ns // NS_PER_S
        return sum(
            count
            for second, count in zip(self.seconds, self.counts, strict=True)
            if now_s - RATE_WINDOW_S < second <= now_s
        )


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """A row of /v1/feeds as of `now_ns`."""

    venue: str
    channel: str
    market: str
    last_ts_event_ns: int | None
    last_ts_recv_ns: int | None
    events: int
    events_last_minute: int
    gaps: int
    last_gap_ns: int | None
    lag_s: float | None  # now - ts_recv of the last event
    venue_delay_s: float | None  # ts_recv - ts_event of the last event


FeedKey = tuple[str, str, str]


class FeedBoard:
    """Per (venue, channel, market): last times, one-minute rate, gaps; at most `max_rows`."""

    def __init__(self, *, max_rows: int, clock: Clock) -> None:
        if max_rows < 1:
            raise ValueError("max_rows must be >= 1")
        self._max = max_rows
        self._clock = clock
        self._rows: OrderedDict[FeedKey, _FeedRow] = OrderedDict()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._rows)

    def _row(self, key: FeedKey) -> _FeedRow:
        rows = self._rows
        row = rows.get(key)
        if row is None:
            row = rows[key] = _FeedRow()
            if len(rows) > self._max:
                rows.popitem(last=False)
                self.evicted += 1
        else:
            rows.move_to_end(key)
        return row

    def event(self, key: FeedKey, ts_event_ns: int, ts_recv_ns: int) -> None:
        """An event of the feed `key` was seen."""
        row = self._row(key)
        row.events += 1
        row.count(ts_recv_ns)
        if ts_recv_ns >= row.last_ts_recv_ns:
            row.last_ts_recv_ns = ts_recv_ns
            row.last_ts_event_ns = ts_event_ns

    def gap(self, key: FeedKey, ts_recv_ns: int) -> None:
        """A Gap event said the feed `key` lost data."""
        row = self._row(key)
        row.gaps += 1
        row.last_gap_ns = max(row.last_gap_ns, ts_recv_ns)

    def snapshot(
        self, *, venue: str | None = None, channel: str | None = None, market: str | None = None
    ) -> list[FeedStatus]:
        """Rows matching the filters (None matches all), sorted by venue, channel, market."""
        now_ns = self._clock.now_ns()
        return [
            _status(key, row, now_ns)
            for key, row in sorted(self._matching(venue, channel, market), key=_by_key)
        ]

    def _matching(
        self, venue: str | None, channel: str | None, market: str | None
    ) -> Iterator[tuple[FeedKey, _FeedRow]]:
        for key, row in self._rows.items():
            if venue is not None and key[0] != venue:
                continue
            if channel is not None and key[1] != channel:
                continue
            if market is not None and key[2] != market:
                continue
            yield key, row


def _by_key(item: tuple[FeedKey, _FeedRow]) -> FeedKey:
    return item[0]


def _status(key: FeedKey, row: _FeedRow, now_ns: int) -> FeedStatus:
    seen = row.events > 0
    return FeedStatus(
        venue=key[0],
        channel=key[1],
        market=key[2],
        last_ts_event_ns=row.last_ts_event_ns if seen else None,
        last_ts_recv_ns=row.last_ts_recv_ns if seen else None,
        events=row.events,
        events_last_minute=row.last_minute(now_ns),
        gaps=row.gaps,
        last_gap_ns=row.last_gap_ns or None,
        lag_s=(now_ns - row.last_ts_recv_ns) / NS_PER_S if seen else None,
        venue_delay_s=(row.last_ts_recv_ns - row.last_ts_event_ns) / NS_PER_S if seen else None,
    )
