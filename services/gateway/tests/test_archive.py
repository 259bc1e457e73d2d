"""Archive reading: only the partitions a range touches are listed; DuckDB reads just those."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from ssmd.contracts.events import event_msg_id
from ssmd.core.errors import TimeoutExpiredError, UnavailableError
from ssmd.gateway.archive import ArchiveReader, HourPartition, hour_partitions

VENUE = "kraken_futures"
MARKET = "kraken_futures:PF_XBTUSD"
OTHER_MARKET = "kraken_futures:PF_ETHUSD"
NS_PER_HOUR = 3_600_000_000_000
T0 = 1_714_564_800_000_000_000  # 2024-05-01T12:00:00Z


@pytest.fixture
def trade(kit: Any) -> Any:
    return kit.trade


@pytest.fixture
def write_archive(kit: Any) -> Any:
    return kit.write_archive


@pytest.fixture
def layout(archive_dir: Path, trade: Any, write_archive: Any) -> Path:
    """Trades of two venues over 2024-05-01 22:00 .. 2024-05-02 02:00, plus decoys."""
    start = T0 + 10 * NS_PER_HOUR  # 2024-05-01T22:00Z
    events = [trade(start + h * NS_PER_HOUR + 5, seq=h) for h in range(5)]
    events += [
        trade(start + h * NS_PER_HOUR + 9, market="kalshi:KX-1", price="0.5") for h in range(5)
    ]
    write_archive(archive_dir, events)
    # Another channel, a file being written and a metadata file: never listed.
    quote_dir = archive_dir / f"venue={VENUE}" / "channel=quote" / "date=2024-05-01" / "hour=22"
    quote_dir.mkdir(parents=True)
    (quote_dir / "part-00000.parquet").write_bytes(b"not read")
    hour = archive_dir / f"venue={VENUE}" / "channel=trade" / "date=2024-05-01" / "hour=23"
    (hour / ".part-00001.parquet.tmp").write_bytes(b"half written")
    (hour / "_manifest.parquet").write_bytes(b"metadata")
    return archive_dir


def _hours(partitions: list[HourPartition]) -> list[str]:
    return ["/".join(p.files[0].parts[-3:-1]) for p in partitions]


def test_one_hour_range_lists_only_that_hours_files(layout: Path) -> None:
    start = T0 + 11 * NS_PER_HOUR + 60_000_000_000  # 23:01
    partitions = hour_partitions(layout, VENUE, "trade", start, start + 60_000_000_000)
    assert _hours(partitions) == ["date=2024-05-01/hour=23"]
    assert [f.name for f in partitions[0].files] == ["part-00000.parquet"]
    assert partitions[0].start_ns == T0 + 11 * NS_PER_HOUR


def test_range_across_midnight_lists_each_hour_in_order(layout: Path) -> None:
    start = T0 + 11 * NS_PER_HOUR + 1  # 23:00:00.000000001
    end = T0 + 13 * NS_PER_HOUR + 1  # 01:00:00.000000001
    partitions = hour_partitions(layout, VENUE, "trade", start, end)
    assert _hours(partitions) == [
        "date=2024-05-01/hour=23",
        "date=2024-05-02/hour=00",
        "date=2024-05-02/hour=01",
    ]


def test_end_is_exclusive_at_an_hour_boundary(layout: Path) -> None:
    start = T0 + 10 * NS_PER_HOUR
    partitions = hour_partitions(layout, VENUE, "trade", start, start + NS_PER_HOUR)
    assert _hours(partitions) == ["date=2024-05-01/hour=22"]


def test_other_venues_channels_and_empty_ranges_are_not_listed(layout: Path) -> None:
    start = T0 + 10 * NS_PER_HOUR
    kalshi = hour_partitions(layout, "kalshi", "trade", start, start + 5 * NS_PER_HOUR)
    assert all("venue=kalshi" in str(p.files[0]) for p in kalshi)
    assert len(kalshi) == 5
    assert hour_partitions(layout, "polymarket", "trade", start, start + NS_PER_HOUR) == []
    assert hour_partitions(layout, VENUE, "trade", start, start) == []
    assert hour_partitions(layout, VENUE, "trade", T0 - 100 * NS_PER_HOUR, T0) == []


async def test_reader_returns_one_market_in_order_within_range_and_limit(
    archive_dir: Path, trade: Any, write_archive: Any
) -> None:
    events = [
        trade(T0 + 30, seq=3),
        trade(T0 + 10, seq=None, trade_id="b"),
        trade(T0 + 10, seq=2, trade_id="a"),
        trade(T0 + 20, seq=5, side=None),
        trade(T0 + 20, market=OTHER_MARKET, seq=1),
        trade(T0 + NS_PER_HOUR - 1, seq=9),
    ]
    files = write_archive(archive_dir, events)
    reader = ArchiveReader(workers=2, timeout_s=10)
    try:
        rows = await reader.trades(MARKET, T0, T0 + NS_PER_HOUR, files, 100)
        assert [(r[0], r[1]) for r in rows] == [
            (T0 + 10, 2),
            (T0 + 10, None),  # no venue sequence sorts after one with a sequence
            (T0 + 20, 5),
            (T0 + 30, 3),
            (T0 + NS_PER_HOUR - 1, 9),
        ]
        assert rows[2][4] is None  # side absent stays null
        assert rows[0][6] == event_msg_id(events[2])
        assert len(await reader.trades(MARKET, T0 + 11, T0 + 30, files, 100)) == 1
        assert len(await reader.trades(MARKET, T0, T0 + NS_PER_HOUR, files, 2)) == 2
        assert await reader.trades(MARKET, T0, T0 + NS_PER_HOUR, [], 10) == []
    finally:
        reader.close()


async def test_reader_keeps_one_row_per_msg_id_when_a_message_was_archived_twice(
    archive_dir: Path, trade: Any, write_archive: Any
) -> None:
    """The archiver delivers at least once: a crash can write a message into two files."""
    events = [trade(T0 + i, seq=i) for i in range(5)]
    first = write_archive(archive_dir, events, name="part-00000.parquet")
    second = write_archive(archive_dir, events, name="part-00001.parquet")
    reader = ArchiveReader(workers=1, timeout_s=10)
    try:
        rows = await reader.trades(MARKET, T0, T0 + NS_PER_HOUR, first + second, 100)
        # Repeats that fill a page are replaced by the next unique rows.
        page = await reader.trades(MARKET, T0, T0 + NS_PER_HOUR, first + second, 3)
    finally:
        reader.close()
    assert [r[1] for r in rows] == [0, 1, 2, 3, 4]
    assert [r[1] for r in page] == [0, 1, 2]


async def test_reader_reports_an_unreadable_file_as_unavailable(
    archive_dir: Path, trade: Any, write_archive: Any
) -> None:
    files = write_archive(archive_dir, [trade(T0)])
    files[0].unlink()
    reader = ArchiveReader(workers=1, timeout_s=10)
    try:
        with pytest.raises(UnavailableError, match="archive read failed"):
            await reader.trades(MARKET, T0, T0 + NS_PER_HOUR, files, 10)
    finally:
        reader.close()


async def test_work_past_the_deadline_is_a_timeout_and_the_reader_stays_usable(
    archive_dir: Path, trade: Any, write_archive: Any
) -> None:
    files = write_archive(archive_dir, [trade(T0)])
    reader = ArchiveReader(workers=1, timeout_s=0.2)
    try:
        with pytest.raises(TimeoutExpiredError, match=r"longer than 0\.2s"):
            await reader._run(lambda: time.sleep(0.5))  # the deadline itself
        assert len(await reader.trades(MARKET, T0, T0 + NS_PER_HOUR, files, 10)) == 1
    finally:
        reader.close()
