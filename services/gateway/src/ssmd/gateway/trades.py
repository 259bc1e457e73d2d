"""The /v1/trades query: validate, read the archive hour by hour, merge the live tail.

A request becomes a `TradeQuery` (or a `ParameterError` naming the parameter). Answering
it (`TradeQueries.answer`):

1. list the archive's ``venue=/channel=trade/date=/hour=`` partitions the range touches;
2. read them oldest first with DuckDB, one hour, then two, four... per query, and stop as
   soon as more than ``limit`` trades are known to precede every partition not yet read:
   rows of a partition all come after rows of earlier partitions (the archiver partitions
   by ``ts_event``), so a year-long range with ``limit=100`` reads one or two hours;
3. add the trades the tail holds for the range (what the archiver has not flushed yet),
   dropping any whose ``msg_id`` the archive already has;
4. order by ``ts_event``, then venue ``seq`` (missing last), then ``msg_id``; cut at limit.

A market with no trades (unknown to the venue, or quiet) answers 200 with no trades: the
gateway cannot tell the two apart without the secmaster, and an empty range is not an
error.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import msgspec

from ssmd.core.clock import Clock
from ssmd.gateway.archive import ArchiveReader, TradeRow
from ssmd.gateway.live import NS_PER_S, RecentTrades
from ssmd.gateway.metrics import GatewayMetrics
from ssmd.gateway.params import ParameterError, format_ns, parse_market, parse_time_ns
from ssmd.gateway.settings import GatewaySettings

ARCHIVE_CHANNEL = "trade"  # the archive's channel= for Trade events (their type tag)


@dataclass(frozen=True, slots=True)
class TradeQuery:
    """A validated request: trades of `market` with ``start_ns <= ts_event_ns < end_ns``."""

    venue: str
    market: str
    start_ns: int
    end_ns: int
    limit: int


class TradeOut(msgspec.Struct, frozen=True):
    """One trade as answered."""

    ts_event: str
    ts_event_ns: int
    price: str
    size: str
    side: str | None  # "buy" or "sell" (the taker), as the contract allows
    trade_id: str | None
    seq: int | None


class SourcesOut(msgspec.Struct, frozen=True):
    """How many of the answered trades came from each source."""

    archive: int
    tail: int


class TradesAnswer(msgspec.Struct, frozen=True):
    """The body of a /v1/trades answer."""

    market: str
    start: str
    start_ns: int
    end: str
    end_ns: int
    count: int
    truncated: bool
    trades: list[TradeOut]
    sources: SourcesOut


@dataclass(frozen=True, slots=True)
class TradesResult:
    """An answer and what it cost (for metrics and the ``X-Ssmd-Archive-Files`` header)."""

    answer: TradesAnswer
    files_read: int
    queries: int


def _order(row: TradeRow) -> tuple[int, bool, int, str]:
    seq = row[1]
    return (row[0], seq is None, seq or 0, row[6])


class TradeQueries:
    """Builds and answers trade queries over one archive and one live tail."""

    def __init__(
        self,
        settings: GatewaySettings,
        archive: ArchiveReader,
        recent: RecentTrades,
        clock: Clock,
        metrics: GatewayMetrics,
    ) -> None:
        self._settings = settings
        self._root = Path(settings.archive_dir)
        self._archive = archive
        self._recent = recent
        self._clock = clock
        self._metrics = metrics

    def query(self, market: str, start: str, end: str | None, limit: int | None) -> TradeQuery:
        """Validate request parameters; raise `ParameterError` naming the first bad one."""
        s = self._settings
        venue, market_id = parse_market(market, s.venues)
        chosen = s.default_limit if limit is None else limit
        if chosen < 1:
            raise ParameterError("limit", "must be at least 1")
        if chosen > s.max_limit:
            raise ParameterError("limit", f"{chosen} is more than the maximum {s.max_limit}")
        start_ns = parse_time_ns(start, "start")
        end_ns = self._clock.now_ns() if end is None else parse_time_ns(end, "end")
        if start_ns >= end_ns:
            raise ParameterError(
                "start", f"must be before end ({format_ns(start_ns)} >= {format_ns(end_ns)})"
            )
        if end_ns - start_ns > s.max_range_s * NS_PER_S:
            raise ParameterError(
                "end",
                f"end - start may span at most {s.max_range_s:.0f} s "
                f"({s.max_range_s / 86_400:g} days); page through longer ranges",
            )
        return TradeQuery(venue, market_id, start_ns, end_ns, chosen)

    async def answer(self, q: TradeQuery) -> TradesResult:
        """Run `q` against the archive and the tail; see the module docstring."""
        started = time.perf_counter()
        partitions = await self._archive.partitions(
            self._root, q.venue, ARCHIVE_CHANNEL, q.start_ns, q.end_ns
        )
        tail_rows = self._recent.between(q.market, q.start_ns, q.end_ns)
        want = q.limit + 1  # one more than asked tells whether the answer is truncated
        archive_rows: list[TradeRow] = []
        archived_ids: set[str] = set()
        files_read = queries = 0
        index, batch = 0, 1
        archive_started = time.perf_counter()
        while index < len(partitions):
            chunk = partitions[index : index + batch]
            index += len(chunk)
            batch *= 2
            files = [path for partition in chunk for path in partition.files]
            rows = await self._archive.trades(q.market, q.start_ns, q.end_ns, files, want)
            files_read += len(files)
            queries += 1
            archive_rows.extend(rows)
            archived_ids.update(row[6] for row in rows)
            if index < len(partitions):
                horizon = partitions[index].start_ns
                known = len(archive_rows) + sum(
                    1 for row in tail_rows if row[0] < horizon and row[6] not in archived_ids
                )
                if known >= want:
                    break
        self._metrics.archive_seconds.observe(time.perf_counter() - archive_started)
        self._metrics.archive_files.inc(files_read)
        merged = _merge(archive_rows, tail_rows, archived_ids)
        trades = [
            TradeOut(format_ns(row[0]), row[0], row[2], row[3], row[4], row[5], row[1])
            for row, _ in merged[: q.limit]
        ]
        from_tail = sum(1 for _, tailed in merged[: q.limit] if tailed)
        answer = TradesAnswer(
            market=q.market,
            start=format_ns(q.start_ns),
            start_ns=q.start_ns,
            end=format_ns(q.end_ns),
            end_ns=q.end_ns,
            count=len(trades),
            truncated=len(merged) > q.limit,
            trades=trades,
            sources=SourcesOut(archive=len(trades) - from_tail, tail=from_tail),
        )
        self._metrics.query_seconds.observe(time.perf_counter() - started)
        return TradesResult(answer, files_read, queries)


def _merge(
    archive_rows: list[TradeRow], tail_rows: Iterable[TradeRow], archived_ids: set[str]
) -> list[tuple[TradeRow, bool]]:
    """Archive rows (already in order) and new tail rows, in order, tagged ``tailed``."""
    seen = set(archived_ids)
    extra: list[TradeRow] = []
    for row in tail_rows:
        if row[6] not in seen:
            seen.add(row[6])
            extra.append(row)
    tagged_archive = [(row, False) for row in archive_rows]
    if not extra:
        return tagged_archive
    extra.sort(key=_order)
    return list(
        heapq.merge(
            tagged_archive, ((row, True) for row in extra), key=lambda item: _order(item[0])
        )
    )
