"""Reading the Parquet archive: which files can hold a range, and DuckDB over just those.

The archive is ssmd-archiver's (its layout is the contract)::

    <archive_dir>/venue=<venue>/channel=<type>/date=<YYYY-MM-DD>/hour=<HH>/<file>.parquet

with date and hour taken from ``ts_event`` in UTC. So the files that can hold events of
one venue and type between two instants are found from the path alone: `hour_partitions`
lists only the date and hour directories the range touches, and DuckDB is handed that
explicit file list (never a glob over the whole archive). Files appear by atomic rename;
names starting with '.' or '_' are work in progress or metadata and are skipped.

`ArchiveReader` runs the queries on a bounded pool of threads, one DuckDB cursor each
(DuckDB releases the GIL while it works), and interrupts a query past its deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

import duckdb

from ssmd.core.errors import TimeoutExpiredError, UnavailableError

T = TypeVar("T")

NS_PER_HOUR: Final = 3_600 * 1_000_000_000
_NS_PER_DAY: Final = 24 * NS_PER_HOUR

TradeRow = tuple[int, int | None, str, str, str | None, str | None, str]
"""(ts_event_ns, seq, price, size, side, trade_id, msg_id): one trade, as read or tailed."""

# One market's trades of the given files and range, in API order. The archiver delivers at
# least once, so a crash can write a message into two files: `trades_blocking` drops repeated
# msg ids itself, and only when some were dropped from a full page does it ask again with
# the exact (slower: a window over every matching row) query that keeps one row per msg id.
_SELECT: Final = """
SELECT ts_event_ns, seq, price, size, side, trade_id, msg_id
FROM read_parquet($files, hive_partitioning = false, union_by_name = true)
WHERE market = $market AND ts_event_ns >= $start_ns AND ts_event_ns < $end_ns
"""
_ORDER: Final = "ORDER BY ts_event_ns, seq NULLS LAST, msg_id LIMIT $limit"
_TRADES_SQL: Final = _SELECT + _ORDER
_UNIQUE_TRADES_SQL: Final = (
    _SELECT + "QUALIFY row_number() OVER (PARTITION BY msg_id ORDER BY stream_seq) = 1\n" + _ORDER
)


@dataclass(frozen=True, slots=True)
class HourPartition:
    """One ``hour=HH`` directory: the hour it holds (start, Unix ns) and its files."""

    start_ns: int
    files: tuple[Path, ...]


def channel_dir(root: Path, venue: str, channel: str) -> Path:
    """``<root>/venue=<venue>/channel=<channel>``."""
    return root / f"venue={venue}" / f"channel={channel}"


def hour_partitions(
    root: Path, venue: str, channel: str, start_ns: int, end_ns: int
) -> list[HourPartition]:
    """The hour partitions that can hold events in ``[start_ns, end_ns)``, oldest first.

    Reads only the ``date=`` directories inside the range (one listing each), then the
    files of the matching ``hour=`` directories. Partitions with no file are left out.
    """
    if end_ns <= start_ns:
        return []
    base = channel_dir(root, venue, channel)
    first_day = start_ns // _NS_PER_DAY
    last_day = (end_ns - 1) // _NS_PER_DAY
    first_hour = start_ns // NS_PER_HOUR
    last_hour = (end_ns - 1) // NS_PER_HOUR
    found: list[HourPartition] = []
    for day in range(first_day, last_day + 1):
        date = dt.date(1970, 1, 1) + dt.timedelta(days=day)
        date_dir = base / f"date={date.isoformat()}"
        for hour, hour_dir in _hour_dirs(date_dir):
            absolute_hour = day * 24 + hour
            if first_hour <= absolute_hour <= last_hour:
                files = _parquet_files(hour_dir)
                if files:
                    found.append(HourPartition(absolute_hour * NS_PER_HOUR, files))
    found.sort(key=lambda partition: partition.start_ns)
    return found


def _hour_dirs(date_dir: Path) -> list[tuple[int, Path]]:
    try:
        entries = list(os.scandir(date_dir))
    except FileNotFoundError:
        return []
    hours = []
    for entry in entries:
        name = entry.name
        if name.startswith("hour=") and entry.is_dir():
            text = name[5:]
            if len(text) == 2 and text.isdigit() and int(text) < 24:
                hours.append((int(text), Path(entry.path)))
    return hours


def _parquet_files(hour_dir: Path) -> tuple[Path, ...]:
    try:
        entries = list(os.scandir(hour_dir))
    except FileNotFoundError:
        return ()
    return tuple(
        sorted(
            Path(entry.path)
            for entry in entries
            if entry.name.endswith(".parquet")
            and not entry.name.startswith((".", "_"))
            and entry.is_file()
        )
    )


def _first_of_each_msg_id(rows: list[TradeRow]) -> list[TradeRow]:
    seen: set[str] = set()
    unique = []
    for row in rows:
        if row[6] not in seen:
            seen.add(row[6])
            unique.append(row)
    return unique


class _Running:
    """The cursor a pool thread is using, so a timed-out query can be interrupted."""

    __slots__ = ("cursor",)

    def __init__(self) -> None:
        self.cursor: duckdb.DuckDBPyConnection | None = None


class ArchiveReader:
    """Trade queries over archive files, on `workers` threads with a per-query deadline."""

    def __init__(self, *, workers: int, timeout_s: float) -> None:
        self._db = duckdb.connect(":memory:")
        # Archive files never change once renamed into place: cache their footers.
        self._db.execute("SET parquet_metadata_cache = true")
        self._timeout_s = timeout_s
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="ssmd-gateway-duckdb")
        self._slots = asyncio.Semaphore(workers)
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._lock = threading.Lock()
        self._closed = False

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cursor: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._db.cursor()
            self._local.cursor = cursor
            with self._lock:
                self._cursors.append(cursor)
        return cursor

    def trades_blocking(
        self,
        market: str,
        start_ns: int,
        end_ns: int,
        files: Sequence[Path],
        limit: int,
        *,
        running: _Running | None = None,
    ) -> list[TradeRow]:
        """The query itself, on the calling thread (the pool calls it; so does the bench)."""
        if not files:
            return []
        cursor = self._cursor()
        if running is not None:
            running.cursor = cursor
        parameters = {
            "files": [str(path) for path in files],
            "market": market,
            "start_ns": start_ns,
            "end_ns": end_ns,
            "limit": limit,
        }
        rows: list[TradeRow] = cursor.execute(_TRADES_SQL, parameters).fetchall()
        unique = _first_of_each_msg_id(rows)
        if len(unique) < len(rows) and len(rows) == limit:
            # Repeats took places of a full page: more unique rows may follow. Rare.
            return cursor.execute(_UNIQUE_TRADES_SQL, parameters).fetchall()
        return unique

    async def trades(
        self, market: str, start_ns: int, end_ns: int, files: Sequence[Path], limit: int
    ) -> list[TradeRow]:
        """Up to `limit` trades of `market` in ``[start_ns, end_ns)`` from `files`, in order.

        Raises `TimeoutExpiredError` past the deadline (the query is interrupted) and
        `UnavailableError` when a file cannot be read.
        """
        running = _Running()
        return await self._run(
            lambda: self.trades_blocking(market, start_ns, end_ns, files, limit, running=running),
            running,
        )

    async def partitions(
        self, root: Path, venue: str, channel: str, start_ns: int, end_ns: int
    ) -> list[HourPartition]:
        """`hour_partitions` on the pool (directory listings block)."""
        return await self._run(lambda: hour_partitions(root, venue, channel, start_ns, end_ns))

    async def _run(self, work: Callable[[], T], running: _Running | None = None) -> T:
        if self._closed:
            raise UnavailableError("the archive reader is closed")
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._timeout_s):
                async with self._slots:
                    future = loop.run_in_executor(self._executor, work)
                    try:
                        return await asyncio.shield(future)
                    except asyncio.CancelledError:
                        # Deadline (or the request went away): stop DuckDB, let the thread go.
                        if running is not None and running.cursor is not None:
                            running.cursor.interrupt()
                        with contextlib.suppress(Exception):
                            await asyncio.wait_for(future, timeout=self._timeout_s)
                        raise
        except TimeoutError as exc:
            raise TimeoutExpiredError(f"archive query took longer than {self._timeout_s}s") from exc
        except (duckdb.IOException, OSError) as exc:
            raise UnavailableError(f"archive read failed: {exc}") from exc

    def close(self) -> None:
        """Stop the pool (waiting for running queries) and close DuckDB."""
        if self._closed:
            return
        self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            for cursor in self._cursors:
                cursor.close()
        self._db.close()
