"""The archive layout (partition paths, file names) and the Arrow schema of each event type."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from ssmd.archiver.columns import EVENT_TYPES, TYPE_TAGS, EventColumns, all_columns
from ssmd.archiver.layout import data_file, file_name, hour_of, partition_dir
from ssmd.contracts.events import BookSnapshot, Gap, PriceLevel, Trade

pytestmark = pytest.mark.unit

TS = pa.timestamp("ns")
COMMON_TAIL = [
    ("ts_event_ns", pa.int64()),
    ("ts_recv_ns", pa.int64()),
    ("msg_id", pa.string()),
    ("stream_seq", pa.uint64()),
]


def _names_types(schema: pa.Schema) -> list[tuple[str, pa.DataType]]:
    return [(field.name, field.type) for field in schema]


def test_partition_is_the_utc_hour_of_the_timestamp() -> None:
    last_ns_of_day = 1_763_769_599_999_999_999  # 2025-11-21T23:59:59.999999999Z
    assert str(partition_dir("kalshi", "trade", hour_of(last_ns_of_day))) == (
        "venue=kalshi/channel=trade/date=2025-11-21/hour=23"
    )
    assert str(partition_dir("kalshi", "trade", hour_of(last_ns_of_day + 1))) == (
        "venue=kalshi/channel=trade/date=2025-11-22/hour=00"
    )
    assert (
        str(partition_dir("kalshi", "gap", 0)) == "venue=kalshi/channel=gap/date=1970-01-01/hour=00"
    )


def test_file_names_sort_by_stream_position_and_never_repeat() -> None:
    names = [file_name(first, first + 9, ".parquet") for first in (1, 10, 9_999, 10_000, 2**63)]
    assert sorted(names) == names
    assert len({file_name(1, 2, ".parquet") for _ in range(100)}) == 100
    assert data_file("kraken_futures", "raw", 5, 1, 2).endswith(".jsonl")
    assert data_file("kraken_futures", "trade", 5, 1, 2).startswith(
        "venue=kraken_futures/channel=trade/date=1970-01-01/hour=05/"
    )
    with pytest.raises(ValueError, match="bad sequence range"):
        file_name(5, 4, ".parquet")


def test_channel_directories_are_the_event_type_tags() -> None:
    assert sorted(TYPE_TAGS.values()) == [
        "book_delta",
        "book_snapshot",
        "funding_rate",
        "gap",
        "market_status",
        "quote",
        "trade",
    ]
    assert set(TYPE_TAGS) == set(EVENT_TYPES)


def test_trade_schema_keeps_decimals_as_strings_and_naive_ns_timestamps() -> None:
    schema = EventColumns(Trade).schema
    assert _names_types(schema) == [
        ("market", pa.string()),
        ("ts_event", TS),
        ("ts_recv", TS),
        ("seq", pa.int64()),
        ("price", pa.string()),
        ("size", pa.string()),
        ("side", pa.string()),
        ("trade_id", pa.string()),
        *COMMON_TAIL,
    ]
    assert schema.field("ts_event").type.tz is None
    assert not schema.field("price").nullable
    assert schema.field("side").nullable


def test_book_levels_are_lists_of_structs() -> None:
    schema = EventColumns(BookSnapshot).schema
    level = pa.struct(
        [pa.field("price", pa.string(), nullable=False), pa.field("size", pa.string(), False)]
    )
    assert schema.field("bids").type == pa.list_(level)
    assert schema.field("asks").type == pa.list_(level)


def test_no_file_column_repeats_a_partition_key() -> None:
    for columns in all_columns().values():
        assert not {"venue", "channel", "date", "hour", "type"} & set(columns.schema.names)
    assert "gap_channel" in EventColumns(Gap).schema.names


def test_tables_hold_exactly_what_was_sent(kit: Any) -> None:
    levels = [PriceLevel("0.0000001", "123456789.123456789"), PriceLevel("-1", "0")]
    snapshot = BookSnapshot(
        venue="kraken_futures",
        market="kraken_futures:a*b>c d",
        ts_event_ns=kit.BASE_NS,
        ts_recv_ns=kit.BASE_NS + 1,
        bids=levels,
        asks=[],
    )
    table = EventColumns(BookSnapshot).table([snapshot, snapshot], ["id-1", None], [7, 8])
    rows = table.to_pylist()
    assert rows[0]["bids"] == [
        {"price": "0.0000001", "size": "123456789.123456789"},
        {"price": "-1", "size": "0"},
    ]
    assert rows[0]["asks"] == []
    assert rows[0]["market"] == "kraken_futures:a*b>c d"
    assert rows[0]["ts_event_ns"] == kit.BASE_NS
    assert table.column("ts_event").cast(pa.int64()).to_pylist() == [kit.BASE_NS] * 2
    assert [r["msg_id"] for r in rows] == ["id-1", None]
    assert [r["stream_seq"] for r in rows] == [7, 8]
    assert rows[0]["seq"] is None


def test_every_sample_type_converts(kit: Any) -> None:
    columns = all_columns()
    events = [kit.make_event(i) for i in range(21)]
    for cls, table_columns in columns.items():
        mine = [e for e in events if type(e) is cls]
        table = table_columns.table(mine, [None] * len(mine), list(range(len(mine))))
        assert table.num_rows == len(mine) == 3
        assert table.schema == table_columns.schema
