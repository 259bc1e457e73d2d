"""Shared helpers of the archiver tests: sample events of every type, fake deliveries,
and reading an archive back with plain DuckDB (no ssmd code)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ssmd.bus import Message
from ssmd.contracts.events import (
    BookDelta,
    BookSnapshot,
    FundingRate,
    Gap,
    LevelChange,
    MarketEvent,
    MarketStatus,
    PriceLevel,
    Quote,
    Trade,
    encode_event,
    event_msg_id,
)

VENUE = "kraken_futures"
# Symbols that would break a subject or a path if they ever reached one.
MARKETS = (
    f"{VENUE}:PF_XBTUSD",
    f"{VENUE}:KX.BTC-25NOV21",
    f"{VENUE}:a*b>c d/e",
)
BASE_NS = 1_763_700_000_000_000_000  # 2025-11-21T04:40:00Z


def make_event(i: int, *, ts_event_ns: int | None = None) -> MarketEvent:  # noqa: PLR0911 - a branch per type
    """The i-th sample event: types, markets and values cycle, so every field is covered."""
    market = MARKETS[i % len(MARKETS)]
    ts = BASE_NS + i * 1_000_000_000 if ts_event_ns is None else ts_event_ns
    common: dict[str, Any] = {
        "venue": VENUE,
        "market": market,
        "ts_event_ns": ts,
        "ts_recv_ns": ts + 123_456,
        "seq": i,
    }
    kind = i % 7
    if kind == 0:
        side = "buy" if i % 2 else None
        return Trade(**common, price=f"6543{i}.50", size="0.0001", side=side, trade_id=f"t{i}")
    if kind == 1:
        return Quote(**common, bid_price="1.25", bid_size="3", ask_price=None, last_price="1.3")
    if kind == 2:
        levels = [PriceLevel(f"{100 + k}.1", f"{k}.000") for k in range(i % 4)]
        return BookSnapshot(**common, bids=levels, asks=levels[:1])
    if kind == 3:
        changes = [LevelChange(side="ask", price="-0.5", size="0")]
        return BookDelta(**common, changes=changes)
    if kind == 4:
        return MarketStatus(**common, status="settled", result="yes")
    if kind == 5:
        return FundingRate(**common, rate="-0.0001", next_funding_ts_ns=ts + 1)
    return Gap(**common, channel="book", reason="reconnect", expected_seq=i - 1)


def deliveries(
    events: list[MarketEvent], *, first_seq: int = 1, stream: str = "MD_TEST_KRAKEN_FUTURES"
) -> list[Message]:
    """Messages as a consumer would hand them over for `events`, stream seqs from first_seq."""
    out = []
    for seq, event in zip(itertools.count(first_seq), events, strict=False):
        msg_id = event_msg_id(event)
        out.append(
            Message(
                "md.test.kraken_futures.x.0.y",
                encode_event(event),
                {"Nats-Msg-Id": msg_id},
                msg_id,
                stream,
                "archiver-md",
                seq,
                seq,
                1,
                0,
                BASE_NS + seq,
            )
        )
    return out


def raw_message(seq: int, data: bytes, *, timestamp_ns: int = BASE_NS) -> Message:
    return Message(
        "raw.test.kraken_futures.0",
        data,
        {"Nats-Msg-Id": f"raw-{seq}"},
        f"raw-{seq}",
        "RAW_TEST_KRAKEN_FUTURES",
        "archiver-raw",
        seq,
        seq,
        1,
        0,
        timestamp_ns,
    )


def channel_glob(root: Path, channel: str) -> str:
    return f"{root}/venue={VENUE}/channel={channel}/**/*.parquet"


def archived(root: Path, channel: str, columns: str = "*") -> list[tuple[Any, ...]]:
    """Rows of one channel read with plain DuckDB and hive partitioning, by stream_seq."""
    if not list(root.glob(f"venue={VENUE}/channel={channel}/*/*/*.parquet")):
        return []
    template = "SELECT {columns} FROM {src} ORDER BY stream_seq".replace("{columns}", columns)
    return duck(template, channel_glob(root, channel))


def duck(template: str, files: str, *options: str) -> list[tuple[Any, ...]]:
    """Run `template` in plain DuckDB with ``{src}`` standing for the Parquet `files`
    read with Hive partitioning (and any extra read_parquet `options`)."""
    source = ", ".join([f"read_parquet('{files}'", "hive_partitioning = true", *options]) + ")"
    return duckdb.sql(template.replace("{src}", source)).fetchall()


def parquet_files(root: Path) -> Iterator[Path]:
    return root.glob("venue=*/channel=*/date=*/hour=*/*.parquet")


@pytest.fixture
def archive_dir(tmp_path: Path) -> Path:
    path = tmp_path / "archive"
    path.mkdir()
    return path


class Kit:
    """The helpers above, handed to tests as the ``kit`` fixture (test modules cannot
    import conftest under ``--import-mode=importlib``)."""

    VENUE = VENUE
    MARKETS = MARKETS
    BASE_NS = BASE_NS
    make_event = staticmethod(make_event)
    deliveries = staticmethod(deliveries)
    raw_message = staticmethod(raw_message)
    channel_glob = staticmethod(channel_glob)
    archived = staticmethod(archived)
    duck = staticmethod(duck)
    parquet_files = staticmethod(parquet_files)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit
