"""`ssmd.secmaster.store`: change detection, versions, tokens, history and the outbox."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
import pytest

from ssmd.contracts.reference import OutcomeToken, ReferenceRecord, decode_reference
from ssmd.db import Pool, Record
from ssmd.secmaster.model import MarketRecord
from ssmd.secmaster.store import (
    NOTIFY_CHANNEL,
    EventRow,
    SeriesRow,
    apply_records,
    load_record,
    record_status,
    upsert_events,
    upsert_series,
)

NOW_NS = 1_764_000_000_000_000_000
LATER_NS = NOW_NS + 60_000_000_000


def kalshi(symbol: str, **fields: Any) -> MarketRecord:
    values: dict[str, Any] = {
        "venue": "kalshi",
        "symbol": symbol,
        "kind": "binary",
        "status": "open",
        "title": f"market {symbol}",
        "event": symbol.rsplit("-", 1)[0],
        "series": symbol.split("-", 1)[0],
        "tick_size": "0.01",
        "close_ts_ns": NOW_NS + 86_400_000_000_000,
        **fields,
    }
    return MarketRecord(**values)


def polymarket(condition: str, yes: str, no: str, **fields: Any) -> MarketRecord:
    return MarketRecord(
        venue="polymarket",
        symbol=condition,
        kind="binary",
        status=fields.pop("status", "open"),
        tokens=[
            OutcomeToken(token_id=yes, outcome="Yes", is_yes=True),
            OutcomeToken(token_id=no, outcome="No", is_yes=False),
        ],
        **fields,
    )


async def apply(
    pool: Pool,
    venue: str,
    records: list[MarketRecord],
    *,
    now_ns: int = NOW_NS,
    full_universe: bool = False,
) -> list[ReferenceRecord]:
    async with pool.acquire() as conn, conn.transaction():
        return await apply_records(
            conn, venue, records, source="rest", now_ns=now_ns, full_universe=full_universe
        )


async def set_status(
    pool: Pool, market_id: str, status: str, result: str | None = None
) -> ReferenceRecord | None:
    async with pool.acquire() as conn, conn.transaction():
        return await record_status(
            conn,
            market_id,
            status,
            result,
            source="bus",
            venue_ts_ns=NOW_NS + 5_000,
            now_ns=LATER_NS,
        )


async def outbox(pool: Pool) -> list[tuple[int, str, str, ReferenceRecord]]:
    """Every outbox row (id, market, change, decoded payload), checked against its row."""
    rows = await pool.fetch("SELECT id, venue, market_id, change, payload FROM outbox ORDER BY id")
    decoded = []
    for row in rows:
        reference = decode_reference(bytes(row["payload"]))
        assert reference.outbox_id == row["id"]
        assert (reference.market, reference.change, reference.venue) == (
            row["market_id"],
            row["change"],
            row["venue"],
        )
        decoded.append((row["id"], row["market_id"], row["change"], reference))
    return decoded


async def one_row(pool: Pool, query: str, *args: object) -> Record:
    row = await pool.fetchrow(query, *args)
    assert row is not None
    return row


async def versions(pool: Pool) -> dict[str, tuple[int, bool, str]]:
    rows = await pool.fetch("SELECT market_id, version, listed, status FROM markets")
    return {r["market_id"]: (r["version"], r["listed"], r["status"]) for r in rows}


async def history(pool: Pool, market_id: str) -> list[tuple[str, str | None, str]]:
    rows = await pool.fetch(
        "SELECT status, result, source FROM status_history WHERE market_id = $1 ORDER BY id",
        market_id,
    )
    return [(r["status"], r["result"], r["source"]) for r in rows]


async def test_new_markets_are_created_at_version_1_with_outbox_row_and_history(
    pool: Pool,
) -> None:
    records = [kalshi("KXA-25DEC31-T1"), kalshi("KXA-25DEC31-T2", status="unopened")]
    written = await apply(pool, "kalshi", records)

    assert [(r.market, r.change, r.version) for r in written] == [
        ("kalshi:KXA-25DEC31-T1", "created", 1),
        ("kalshi:KXA-25DEC31-T2", "created", 1),
    ]
    rows = await outbox(pool)
    assert [reference for _, _, _, reference in rows] == written
    assert all(reference.ts_ns == NOW_NS for reference in written)
    assert await versions(pool) == {
        "kalshi:KXA-25DEC31-T1": (1, True, "open"),
        "kalshi:KXA-25DEC31-T2": (1, True, "unopened"),
    }
    assert await history(pool, "kalshi:KXA-25DEC31-T2") == [("unopened", None, "rest")]
    row = await one_row(
        pool,
        "SELECT content_hash, title, event, series, close_ts FROM markets WHERE market_id = $1",
        "kalshi:KXA-25DEC31-T1",
    )
    assert row["content_hash"] == records[0].content_hash()
    assert (row["title"], row["event"], row["series"]) == (
        "market KXA-25DEC31-T1",
        "KXA-25DEC31",
        "KXA",
    )
    assert row["close_ts"].timestamp() == (NOW_NS + 86_400_000_000_000) / 1e9


async def test_equal_records_write_nothing(pool: Pool) -> None:
    records = [kalshi("KXA-25DEC31-T1"), kalshi("KXA-25DEC31-T2")]
    await apply(pool, "kalshi", records)
    before = await pool.fetch("SELECT market_id, updated_at, version FROM markets ORDER BY 1")

    assert await apply(pool, "kalshi", list(records), now_ns=LATER_NS, full_universe=True) == []

    assert len(await outbox(pool)) == 2
    assert await pool.fetch("SELECT market_id, updated_at, version FROM markets ORDER BY 1") == (
        before
    )


async def test_a_status_or_result_change_alone_is_a_status_change(pool: Pool) -> None:
    await apply(pool, "kalshi", [kalshi("KXA-25DEC31-T1"), kalshi("KXA-25DEC31-T2")])

    written = await apply(
        pool,
        "kalshi",
        [kalshi("KXA-25DEC31-T1", status="determined", result="yes"), kalshi("KXA-25DEC31-T2")],
        now_ns=LATER_NS,
    )

    assert [(r.market, r.change, r.version, r.status, r.result) for r in written] == [
        ("kalshi:KXA-25DEC31-T1", "status", 2, "determined", "yes")
    ]
    assert await history(pool, "kalshi:KXA-25DEC31-T1") == [
        ("open", None, "rest"),
        ("determined", "yes", "rest"),
    ]
    assert (await outbox(pool))[-1][3] == written[0]


async def test_any_other_change_is_an_update_without_a_history_row(pool: Pool) -> None:
    await apply(pool, "kalshi", [kalshi("KXA-25DEC31-T1")])

    written = await apply(
        pool, "kalshi", [kalshi("KXA-25DEC31-T1", title="renamed", status="closed")]
    )

    assert [(r.change, r.version, r.title, r.status) for r in written] == [
        ("updated", 2, "renamed", "closed")
    ]
    assert await history(pool, "kalshi:KXA-25DEC31-T1") == [
        ("open", None, "rest"),
        ("closed", None, "rest"),
    ]
    written = await apply(
        pool, "kalshi", [kalshi("KXA-25DEC31-T1", title="again", status="closed")]
    )
    assert [(r.change, r.version) for r in written] == [("updated", 3)]
    assert len(await history(pool, "kalshi:KXA-25DEC31-T1")) == 2


async def test_full_universe_removes_absent_markets_of_that_venue_only(pool: Pool) -> None:
    await apply(pool, "kalshi", [kalshi("KXA-25DEC31-T1"), kalshi("KXA-25DEC31-T2")])
    await apply(pool, "polymarket", [polymarket("0x" + "a" * 64, "1", "2")])

    written = await apply(
        pool, "kalshi", [kalshi("KXA-25DEC31-T1")], now_ns=LATER_NS, full_universe=True
    )

    assert [(r.market, r.change, r.version, r.status) for r in written] == [
        ("kalshi:KXA-25DEC31-T2", "removed", 2, "open")
    ]
    assert written[0].ts_ns == LATER_NS
    state = await versions(pool)
    assert state["kalshi:KXA-25DEC31-T2"] == (2, False, "open")
    assert state["polymarket:0x" + "a" * 64] == (1, True, "open")
    # Removed once is removed: the next full listing without it changes nothing.
    assert await apply(pool, "kalshi", [kalshi("KXA-25DEC31-T1")], full_universe=True) == []
    # Listed again: created anew for consumers, the version goes on.
    back = await apply(pool, "kalshi", [kalshi("KXA-25DEC31-T2")])
    assert [(r.change, r.version) for r in back] == [("created", 3)]
    assert (await versions(pool))["kalshi:KXA-25DEC31-T2"] == (3, True, "open")
    assert [change for _, _, change, _ in await outbox(pool)] == [
        "created",
        "created",
        "created",
        "removed",
        "created",
    ]


async def test_tokens_follow_their_market(pool: Pool) -> None:
    condition = "0x" + "b" * 64
    await apply(pool, "polymarket", [polymarket(condition, "11", "12")])
    rows = await pool.fetch("SELECT token_id, market_id, is_yes FROM tokens ORDER BY token_id")
    assert [tuple(r) for r in rows] == [
        ("11", f"polymarket:{condition}", True),
        ("12", f"polymarket:{condition}", False),
    ]

    written = await apply(pool, "polymarket", [polymarket(condition, "11", "13")])

    assert written[0].change == "updated"
    assert [t.token_id for t in written[0].tokens] == ["11", "13"]
    rows = await pool.fetch("SELECT token_id FROM tokens ORDER BY token_id")
    assert [r["token_id"] for r in rows] == ["11", "13"]


async def test_record_status_changes_a_known_market_once(pool: Pool) -> None:
    await apply(pool, "kalshi", [kalshi("KXA-25DEC31-T1")])

    changed = await set_status(pool, "kalshi:KXA-25DEC31-T1", "determined", "no")

    assert changed is not None
    assert (changed.change, changed.version, changed.status, changed.result) == (
        "status",
        2,
        "determined",
        "no",
    )
    assert changed.ts_ns == LATER_NS
    assert (await outbox(pool))[-1][3] == changed
    assert await set_status(pool, "kalshi:KXA-25DEC31-T1", "determined", "no") is None
    # No result given: the known result is kept.
    settled = await set_status(pool, "kalshi:KXA-25DEC31-T1", "settled")
    assert settled is not None
    assert (settled.status, settled.result, settled.version) == ("settled", "no", 3)
    assert await set_status(pool, "kalshi:KXA-99-T1", "closed") is None
    rows = await pool.fetch(
        "SELECT status, result, source, venue_ts FROM status_history "
        "WHERE market_id = 'kalshi:KXA-25DEC31-T1' ORDER BY id"
    )
    assert [(r["status"], r["result"], r["source"]) for r in rows] == [
        ("open", None, "rest"),
        ("determined", "no", "bus"),
        ("settled", "no", "bus"),
    ]
    assert rows[1]["venue_ts"].timestamp() == pytest.approx((NOW_NS + 5_000) / 1e9)
    loaded = await load_record_of(pool, "kalshi:KXA-25DEC31-T1")
    assert loaded == (kalshi("KXA-25DEC31-T1", status="settled", result="no"), 3)
    row = await one_row(
        pool,
        "SELECT content_hash, status, result FROM markets WHERE market_id = $1",
        "kalshi:KXA-25DEC31-T1",
    )
    assert tuple(row) == (loaded[0].content_hash(), "settled", "no")
    # The same record from REST later is no change: the bus was only ahead of it.
    assert await apply(pool, "kalshi", [loaded[0]]) == []


async def test_record_status_rejects_a_status_outside_the_contract(pool: Pool) -> None:
    await apply(pool, "kalshi", [kalshi("KXA-25DEC31-T1")])
    with pytest.raises(ValueError, match="halted"):
        await set_status(pool, "kalshi:KXA-25DEC31-T1", "halted")


async def load_record_of(pool: Pool, market_id: str) -> tuple[MarketRecord, int] | None:
    async with pool.acquire() as conn:
        return await load_record(conn, market_id)


async def test_load_record_returns_the_record_and_version_or_none(pool: Pool) -> None:
    record = polymarket("0x" + "c" * 64, "21", "22", title="q", attributes={"slug": "q"})
    await apply(pool, "polymarket", [record])
    assert await load_record_of(pool, record.market) == (record, 1)
    assert await load_record_of(pool, "polymarket:0xnothing") is None


async def test_writes_must_run_inside_a_transaction(pool: Pool) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="inside a transaction"):
            await apply_records(
                conn, "kalshi", [], source="rest", now_ns=NOW_NS, full_universe=False
            )


async def test_records_of_another_venue_or_given_twice_are_refused(pool: Pool) -> None:
    with pytest.raises(ValueError, match="not of venue"):
        await apply(pool, "polymarket", [kalshi("KXA-25DEC31-T1")])
    with pytest.raises(ValueError, match="twice"):
        await apply(pool, "kalshi", [kalshi("KXA-25DEC31-T1"), kalshi("KXA-25DEC31-T1")])
    assert await outbox(pool) == []


async def apply_then_fail(pool: Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await apply_records(
            conn, "kalshi", [kalshi("KXA-25DEC31-T1")], source="rest", now_ns=NOW_NS,
            full_universe=False,
        )  # fmt: skip
        _ = 1 / 0


async def test_a_commit_notifies_the_outbox_channel_and_a_rollback_does_not(pool: Pool) -> None:
    received: asyncio.Queue[str] = asyncio.Queue()

    def heard(*args: object) -> None:
        received.put_nowait(str(args[2]))

    async with pool.acquire() as listener:
        await listener.add_listener(NOTIFY_CHANNEL, heard)
        try:
            with pytest.raises(ZeroDivisionError):
                await apply_then_fail(pool)
            await asyncio.sleep(0.2)
            assert received.empty()
            assert await outbox(pool) == []

            await apply(pool, "kalshi", [kalshi("KXA-25DEC31-T1")])
            assert await asyncio.wait_for(received.get(), timeout=5) == NOTIFY_CHANNEL
        finally:
            await listener.remove_listener(NOTIFY_CHANNEL, heard)


async def test_series_and_events_upsert_and_keep_unchanged_rows(pool: Pool) -> None:
    series = SeriesRow(series="KXA", title="A", category="Economics", tags=["x"], frequency="daily")
    event = EventRow(event="KXA-25DEC31", series="KXA", title="A on Dec 31", sub_title="Dec 31")
    async with pool.acquire() as conn, conn.transaction():
        await upsert_series(conn, "kalshi", [series])
        await upsert_events(conn, "kalshi", [event])
    first = await one_row(pool, "SELECT xmin::text AS x, * FROM series")
    assert (first["title"], first["category"], first["tags"], first["frequency"]) == (
        "A",
        "Economics",
        ["x"],
        "daily",
    )
    async with pool.acquire() as conn, conn.transaction():
        await upsert_series(conn, "kalshi", [series])
        await upsert_events(conn, "kalshi", [msgspec.structs.replace(event, title="new")])
    assert (await one_row(pool, "SELECT xmin::text AS x FROM series"))["x"] == first["x"]
    row = await one_row(pool, "SELECT series, title, sub_title FROM events")
    assert tuple(row) == ("KXA", "new", "Dec 31")


async def test_fifty_thousand_records_apply_in_one_call_and_again_change_nothing(
    pool: Pool,
) -> None:
    records = [
        kalshi(f"KXB{n % 50}-E{n // 10:05d}-T{n % 10}", attributes={"strike_type": "greater"})
        for n in range(50_000)
    ]
    started = time.perf_counter()
    written = await apply(pool, "kalshi", records, full_universe=True)
    first_s = time.perf_counter() - started
    started = time.perf_counter()
    again = await apply(pool, "kalshi", records, now_ns=LATER_NS, full_universe=True)
    second_s = time.perf_counter() - started
    print(f"apply_records 50k: first {first_s:.2f} s, unchanged {second_s:.2f} s")

    assert len(written) == 50_000
    assert again == []
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 50_000
    assert first_s < 30  # a regression guard far above the few seconds it takes
