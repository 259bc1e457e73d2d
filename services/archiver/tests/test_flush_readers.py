"""A flush writes files that plain DuckDB, polars and pandas read with Hive partitioning.

No ssmd code reads the archive here: the readers see only the directory layout and the
Parquet files, as the gateway and the tournament will.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import msgspec
import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest

from ssmd.archiver.flush import MarketFlusher, RawFlusher
from ssmd.archiver.manifest import StreamManifest
from ssmd.contracts.events import Trade, encode_event
from ssmd.core.errors import BadInputError

pytestmark = pytest.mark.unit


@pytest.fixture
def flusher(archive_dir: Path, kit: Any) -> MarketFlusher:
    manifest = StreamManifest(archive_dir, "MD_TEST_KRAKEN_FUTURES")
    manifest.open()
    yield MarketFlusher(kit.VENUE, manifest)
    manifest.close()


def _sent(events: list[Any]) -> dict[str, list[dict[str, Any]]]:
    """What was published, as plain data by type tag, without the partition keys."""
    out: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        data = msgspec.to_builtins(event)
        tag = data.pop("type")
        data.pop("venue")
        if tag == "gap":
            data["gap_channel"] = data.pop("channel")
        out.setdefault(tag, []).append(data)
    return out


def test_every_event_is_written_once_exactly_as_sent(
    flusher: MarketFlusher, archive_dir: Path, kit: Any
) -> None:
    # Three hours of events, so files land in several hour partitions.
    events = [kit.make_event(i, ts_event_ns=kit.BASE_NS + i * 10**12) for i in range(70)]
    result = flusher.flush(kit.deliveries(events))
    assert result.rejected == []
    assert sum(result.rows.values()) == 70
    sent = _sent(events)
    for tag, rows in sent.items():
        channel_dir = archive_dir / f"venue={kit.VENUE}" / f"channel={tag}"
        table = pq.read_table(channel_dir, partitioning="hive")
        got = sorted(table.to_pylist(), key=lambda row: row["stream_seq"])
        assert len(got) == len(rows)
        for row, expected in zip(got, rows, strict=True):
            for key, value in expected.items():
                if key in {"bids", "asks"}:
                    value = [{"price": p, "size": s} for p, s in value]  # noqa: PLW2901
                assert row[key] == value, (tag, key)
            assert row["ts_event"] == dt.datetime(1970, 1, 1) + dt.timedelta(
                microseconds=row["ts_event_ns"] // 1000
            )
    dates_hours = {p.parent.name for p in kit.parquet_files(archive_dir)}
    assert len(dates_hours) >= 3


def test_duckdb_reads_a_channel_with_hive_partitioning_and_time_bucket(
    flusher: MarketFlusher, archive_dir: Path, kit: Any
) -> None:
    events = [kit.make_event(i * 7) for i in range(30)]  # trades only
    flusher.flush(kit.deliveries(events))
    glob = kit.channel_glob(archive_dir, "trade")
    described = kit.duck("DESCRIBE SELECT * FROM {src}", glob)
    types = {row[0]: row[1] for row in described}
    assert types["ts_event"] == "TIMESTAMP_NS"
    assert types["price"] == "VARCHAR"
    assert types["venue"] == "VARCHAR"  # from the venue= directory
    assert types["stream_seq"] == "UBIGINT"
    buckets = kit.duck(
        "SELECT time_bucket(INTERVAL '1 minute', ts_event) AS minute, count(*) AS n, "
        "min(venue), min(channel) FROM {src} GROUP BY minute ORDER BY minute",
        glob,
    )
    assert sum(n for _, n, _, _ in buckets) == 30
    assert {(venue, channel) for _, _, venue, channel in buckets} == {(kit.VENUE, "trade")}
    markets = kit.duck("SELECT DISTINCT market FROM {src}", glob)
    assert {m for (m,) in markets} == set(kit.MARKETS)
    # The whole archive at once, every type: columns are unioned by name.
    everything = f"{archive_dir}/**/*.parquet"
    assert kit.duck("SELECT count(*) FROM {src}", everything, "union_by_name = true") == [(30,)]


def test_polars_and_pandas_read_a_channel_directory(
    flusher: MarketFlusher, archive_dir: Path, kit: Any
) -> None:
    events = [kit.make_event(i) for i in range(140)]
    flusher.flush(kit.deliveries(events))
    channel_dir = archive_dir / f"venue={kit.VENUE}" / "channel=book_snapshot"
    frame = pl.scan_parquet(channel_dir, hive_partitioning=True).collect()
    assert frame.height == 20
    assert frame.schema["ts_event"] == pl.Datetime("ns")
    assert frame.schema["bids"] == pl.List(pl.Struct({"price": pl.String, "size": pl.String}))
    assert frame.schema["date"] == pl.Date
    assert sorted(frame["stream_seq"].to_list()) == [i + 1 for i in range(2, 140, 7)]
    glob_frame = pl.scan_parquet(
        str(archive_dir / "venue=*" / "channel=trade" / "**" / "*.parquet"),
        hive_partitioning=True,
    ).collect()
    assert glob_frame.height == 20
    assert set(glob_frame["venue"].to_list()) == {kit.VENUE}

    table = pd.read_parquet(archive_dir / f"venue={kit.VENUE}" / "channel=trade")
    assert len(table) == 20
    assert str(table["ts_event"].dtype) == "datetime64[ns]"
    assert sorted(table["stream_seq"]) == [i + 1 for i in range(0, 140, 7)]
    assert set(table["market"]) == set(kit.MARKETS)


def test_bad_payloads_are_rejected_with_a_reason_and_not_written(
    flusher: MarketFlusher, archive_dir: Path, kit: Any
) -> None:
    good = kit.deliveries([kit.make_event(0), kit.make_event(7)])
    malformed = good[0]._replace(data=b'{"type": "trade", "venue": ', stream_seq=3)
    invalid = good[0]._replace(data=good[0].data.replace(b'"0.0001"', b'"1e-4"'), stream_seq=4)
    other_venue = Trade(
        venue="kalshi", market="kalshi:X", ts_event_ns=1, ts_recv_ns=1, price="0.5", size="1"
    )
    foreign = good[0]._replace(data=encode_event(other_venue), stream_seq=5)
    result = flusher.flush([*good, malformed, invalid, foreign])
    reasons = {r.message.stream_seq: r.error for r in result.rejected}
    assert sorted(reasons) == [3, 4, 5]
    assert all(isinstance(error, BadInputError) for error in reasons.values())
    assert "malformed market event JSON" in str(reasons[3])
    assert "invalid market event" in str(reasons[4])
    assert "venue 'kalshi'" in str(reasons[5])
    assert [row[0] for row in kit.archived(archive_dir, "trade", "stream_seq")] == [1, 2]
    assert flusher.manifest.committed.count == 2  # rejected ones are not "committed"


def test_redelivered_and_repeated_messages_are_skipped(
    flusher: MarketFlusher, archive_dir: Path, kit: Any
) -> None:
    batch = kit.deliveries([kit.make_event(i * 7) for i in range(10)])
    flusher.flush(batch[:6])
    again = flusher.flush([*batch[3:], batch[8]])  # 4..6 committed, 9 twice in the batch
    assert again.skipped == 4
    assert again.rows == {"trade": 4}
    seqs = [row[0] for row in kit.archived(archive_dir, "trade", "stream_seq")]
    assert seqs == list(range(1, 11))
    assert flusher.flush(batch).rows == {}  # nothing new: no file, no commit


def test_raw_frames_become_json_lines_by_hour(archive_dir: Path, kit: Any) -> None:
    manifest = StreamManifest(archive_dir, "RAW_TEST_KRAKEN_FUTURES")
    manifest.open()
    flusher = RawFlusher(kit.VENUE, manifest)
    hour_ns = 3_600 * 10**9
    frames = [
        kit.raw_message(1, b'{"feed":"book","seq":1}', timestamp_ns=kit.BASE_NS),
        kit.raw_message(2, '{"s":"é"}'.encode(), timestamp_ns=kit.BASE_NS + 1),
        kit.raw_message(3, b"\xff\x00binary", timestamp_ns=kit.BASE_NS + hour_ns),
    ]
    result = flusher.flush(frames)
    manifest.close()
    assert result.rows == {"raw": 3}
    files = sorted(archive_dir.glob(f"venue={kit.VENUE}/channel=raw/date=*/hour=*/*.jsonl"))
    assert len(files) == 2
    lines = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    assert lines[0] == {
        "ts_recv_ns": kit.BASE_NS,
        "subject": "raw.test.kraken_futures.0",
        "msg_id": "raw-1",
        "stream_seq": 1,
        "frame": '{"feed":"book","seq":1}',
    }
    assert lines[1]["frame"] == '{"s":"é"}'
    assert lines[2]["frame_b64"] == "/wBiaW5hcnk="
    assert "frame" not in lines[2]
