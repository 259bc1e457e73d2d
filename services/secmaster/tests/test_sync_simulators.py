"""`SyncRunner` against the three venue simulators (real REST servers, real Postgres)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from ssmd.contracts.reference import decode_reference
from ssmd.db import Pool
from ssmd.secmaster.sync import SyncBusyError, SyncRunner
from ssmd.secmaster.sync.http import RestRejectedError
from ssmd.secmaster.sync.runner import EmptyUniverseError, sync_lock_key
from ssmd.simulator.app import Simulator
from ssmd.simulator.polymarket.symbols import market_ids
from ssmd.testing.fixtures import venue_fixture
from ssmd.venues.errors import MalformedFrame

KALSHI = ["KXA-26JAN01-T1", "KXA-26JAN01-T2", "KXA-26JAN02-T1", "KXB-26JAN01-B5.5"]
POLY = ["will-a-happen", "will-b-happen", "will-c-happen"]


async def three_venues(simulators: Any) -> dict[str, Simulator]:
    return {
        "kalshi": await simulators("kalshi", markets=KALSHI),
        "kraken_futures": await simulators("kraken_futures"),
        "polymarket": await simulators("polymarket", markets=POLY),
    }


async def outbox(pool: Pool) -> list[tuple[str, str, int]]:
    rows = await pool.fetch("SELECT market_id, change, payload, id FROM outbox ORDER BY id")
    found = []
    for row in rows:
        reference = decode_reference(bytes(row["payload"]))
        assert reference.outbox_id == row["id"]
        found.append((row["market_id"], row["change"], reference.version))
    return found


async def test_first_sync_lists_every_market_and_a_second_changes_nothing(
    pool: Pool, simulators: Any, runners: Any, synckit: Any
) -> None:
    sims = await three_venues(simulators)
    runner: SyncRunner = runners(synckit.settings(sims))

    reports = await runner.sync_all()

    assert [(r.venue, r.rows, r.changes, r.resumed) for r in reports] == [
        ("kalshi", 4, 4, False),
        ("kraken_futures", 4, 4, False),
        ("polymarket", 3, 3, False),
    ]
    # Kalshi: series, events, one markets page; the others one page each.
    assert [r.pages for r in reports] == [3, 1, 1]
    markets = {m for m, _, _, _ in await synckit.market_rows(pool)}
    expected = {f"kalshi:{t}" for t in KALSHI}
    expected |= {f"kraken_futures:{s}" for s in sims["kraken_futures"].exchange.product_ids}
    expected |= {f"polymarket:{market_ids(slug).condition_id}" for slug in POLY}
    assert markets == expected
    assert sorted(await outbox(pool)) == sorted((m, "created", 1) for m in expected)
    assert await pool.fetchval("SELECT count(*) FROM tokens") == 2 * len(POLY)
    runs = await pool.fetch("SELECT venue, state, changes, pages FROM sync_runs ORDER BY venue")
    assert [tuple(r) for r in runs] == [
        ("kalshi", "applied", 4, 3),
        ("kraken_futures", "applied", 4, 1),
        ("polymarket", "applied", 3, 1),
    ]
    assert await pool.fetchval("SELECT count(*) FROM sync_staging") == 0

    again = await runner.sync_all()

    assert [r.changes for r in again] == [0, 0, 0]
    assert await synckit.outbox_count(pool) == len(expected)


async def test_kalshi_sync_fills_series_events_and_categories(
    pool: Pool, simulators: Any, runners: Any, synckit: Any
) -> None:
    sim = await simulators("kalshi", markets=KALSHI)
    runner: SyncRunner = runners(synckit.settings({"kalshi": sim}))

    await runner.sync_venue("kalshi")

    series = {r["series"]: r["category"] for r in await pool.fetch("SELECT * FROM series")}
    assert set(series) == {"KXA", "KXB"}
    events = await pool.fetch("SELECT event, series FROM events ORDER BY event")
    assert [tuple(r) for r in events] == [
        ("KXA-26JAN01", "KXA"),
        ("KXA-26JAN02", "KXA"),
        ("KXB-26JAN01", "KXB"),
    ]
    rows = await pool.fetch("SELECT market_id, event, series, category, status FROM markets")
    for row in rows:
        symbol = row["market_id"].removeprefix("kalshi:")
        assert row["event"] == "-".join(symbol.split("-")[:2])
        assert row["series"] == symbol.split("-")[0]
        assert row["category"] == series[row["series"]]
        assert row["category"]


async def test_a_market_created_at_the_venue_appears_on_the_next_sync_as_created(
    pool: Pool, simulators: Any, runners: Any, synckit: Any
) -> None:
    sims = {
        "kalshi": await simulators("kalshi", markets=KALSHI),
        "polymarket": await simulators("polymarket", markets=POLY),
    }
    runner: SyncRunner = runners(synckit.settings(sims))
    await runner.sync_all()
    before = await synckit.outbox_count(pool)

    await synckit.post_lifecycle(sims["kalshi"], "KXC-26FEB01-T7", "create")
    await synckit.post_lifecycle(sims["polymarket"], "will-d-happen", "create")
    reports = await runner.sync_all()

    assert [r.changes for r in reports] == [1, 1]
    new = (await outbox(pool))[before:]
    condition = market_ids("will-d-happen").condition_id
    assert sorted(new) == [
        ("kalshi:KXC-26FEB01-T7", "created", 1),
        (f"polymarket:{condition}", "created", 1),
    ]
    assert await pool.fetchval("SELECT count(*) FROM events WHERE event = 'KXC-26FEB01'") == 1


async def test_a_settled_market_becomes_settled_with_its_result(
    pool: Pool, simulators: Any, runners: Any, synckit: Any
) -> None:
    sims = {
        "kalshi": await simulators("kalshi", markets=KALSHI),
        "polymarket": await simulators("polymarket", markets=POLY),
    }
    runner: SyncRunner = runners(synckit.settings(sims))
    await runner.sync_all()

    await synckit.post_lifecycle(sims["kalshi"], "KXA-26JAN01-T1", "close")
    await synckit.post_lifecycle(sims["kalshi"], "KXA-26JAN01-T1", "determine", result="yes")
    await synckit.post_lifecycle(sims["kalshi"], "KXA-26JAN01-T1", "settle")
    await synckit.post_lifecycle(sims["polymarket"], "will-b-happen", "settle", result="no")
    await synckit.post_lifecycle(sims["polymarket"], "will-c-happen", "pause")
    await runner.sync_all()

    condition_b = market_ids("will-b-happen").condition_id
    condition_c = market_ids("will-c-happen").condition_id
    rows = await pool.fetch(
        "SELECT market_id, status, result, version FROM markets WHERE version > 1"
    )
    assert sorted(tuple(r) for r in rows) == [
        ("kalshi:KXA-26JAN01-T1", "settled", "yes", 2),
        (f"polymarket:{condition_b}", "settled", "no", 2),
        (f"polymarket:{condition_c}", "paused", None, 2),
    ]
    history = await pool.fetch(
        "SELECT status, result, source FROM status_history WHERE market_id = $1 ORDER BY id",
        "kalshi:KXA-26JAN01-T1",
    )
    assert [tuple(r) for r in history] == [("open", None, "rest"), ("settled", "yes", "rest")]


async def test_a_market_the_venue_no_longer_lists_is_removed(
    pool: Pool, simulators: Any, runners: Any, synckit: Any
) -> None:
    before = await simulators("kalshi", markets=KALSHI)
    after = await simulators("kalshi", markets=KALSHI[:3])
    await runners(synckit.settings({"kalshi": before})).sync_venue("kalshi")

    report = await runners(synckit.settings({"kalshi": after})).sync_venue("kalshi")

    assert report.changes == 1
    assert (await outbox(pool))[-1] == (f"kalshi:{KALSHI[3]}", "removed", 2)
    row = await pool.fetchrow("SELECT listed, status FROM markets WHERE market_id = $1",
                              f"kalshi:{KALSHI[3]}")  # fmt: skip
    assert row is not None
    assert (row["listed"], row["status"]) == (False, "open")


async def test_a_refused_page_fails_the_run_and_the_next_sync_starts_fresh(
    pool: Pool, simulators: Any, runners: Any, synckit: Any
) -> None:
    sim = await simulators("kalshi", markets=KALSHI)
    wrong = synckit.settings({"kalshi": sim}, kalshi_rest_url=f"{sim.url}/trade-api/v9")

    with pytest.raises(RestRejectedError, match=r"trade-api/v9/series: HTTP 404") as caught:
        await runners(wrong).sync_venue("kalshi")

    assert caught.value.status == 404
    failed = await pool.fetchrow("SELECT run_id, state, error FROM sync_runs")
    assert failed is not None
    assert failed["state"] == "failed"
    assert "HTTP 404" in failed["error"]
    report = await runners(synckit.settings({"kalshi": sim})).sync_venue("kalshi")
    assert (report.resumed, report.rows) == (False, 4)
    assert report.run_id != failed["run_id"]


async def test_a_sync_stopped_while_staging_resumes_without_fetching_a_page_twice(
    pool: Pool, simulators: Any, runners: Any, synckit: Any
) -> None:
    sim = await simulators("polymarket", markets=synckit.polymarket_slugs(6000))
    slow = runners(synckit.settings({"polymarket": sim}, rest_requests_per_s=4.0))
    task = asyncio.create_task(slow.sync_venue("polymarket"))

    async def two_pages_staged() -> bool:
        return bool(await pool.fetchval("SELECT coalesce(max(pages), 0) >= 2 FROM sync_runs"))

    await synckit.until(two_pages_staged)
    task.cancel()  # as a process dies: what is committed stays
    with pytest.raises(asyncio.CancelledError):
        await task
    staged = await pool.fetchrow("SELECT run_id, pages, state, cursor FROM sync_runs")
    assert staged is not None
    assert staged["state"] == "staging"
    assert await synckit.outbox_count(pool) == 0
    assert await pool.fetchval("SELECT count(*) FROM markets") == 0

    fresh = runners(synckit.settings({"polymarket": sim}))
    report = await fresh.sync_venue("polymarket")

    assert (report.run_id, report.resumed, report.rows, report.pages) == (
        staged["run_id"], True, 6000, 6,
    )  # fmt: skip
    progress: Any = fresh.progress()["polymarket"]
    assert progress["requests"] == 6 - staged["pages"]
    assert progress["last_report"]["changes"] == 6000
    assert await synckit.outbox_count(pool) == 6000


async def test_a_run_staged_long_ago_is_abandoned_not_applied(
    pool: Pool, simulators: Any, runners: Any, synckit: Any
) -> None:
    sim = await simulators("kraken_futures")
    old = await pool.fetchval(
        "INSERT INTO sync_runs (venue, state, cursor, pages, started_at) "
        "VALUES ('kraken_futures', 'staging', '', 1, now() - interval '2 hours') RETURNING run_id"
    )
    await pool.execute(
        "INSERT INTO sync_staging (run_id, kind, key, record) VALUES ($1, 'market', 'x', '{}')",
        old,
    )

    report = await runners(synckit.settings({"kraken_futures": sim})).sync_venue("kraken_futures")

    assert (report.resumed, report.rows) == (False, 4)
    state = await pool.fetchval("SELECT state FROM sync_runs WHERE run_id = $1", old)
    assert state == "abandoned"
    assert await pool.fetchval("SELECT count(*) FROM sync_staging") == 0


async def test_a_venue_synced_elsewhere_is_busy(
    pool: Pool, simulators: Any, runners: Any, synckit: Any
) -> None:
    sim = await simulators("kraken_futures")
    runner: SyncRunner = runners(synckit.settings({"kraken_futures": sim}))
    async with pool.acquire() as other:
        await other.execute("SELECT pg_advisory_lock($1)", sync_lock_key("kraken_futures"))
        try:
            with pytest.raises(SyncBusyError):
                await runner.sync_venue("kraken_futures")
        finally:
            await other.execute("SELECT pg_advisory_unlock($1)", sync_lock_key("kraken_futures"))
    assert (await runner.sync_venue("kraken_futures")).rows == 4


async def test_an_empty_listing_fails_the_run_and_keeps_the_markets(
    pool: Pool, simulators: Any, runners: Any, stub_servers: Any, synckit: Any
) -> None:
    sim = await simulators("kraken_futures")
    await runners(synckit.settings({"kraken_futures": sim})).sync_venue("kraken_futures")

    async def nothing(request: web.Request) -> web.Response:
        return web.json_response({"result": "success", "instruments": []})

    app = web.Application()
    app.router.add_get("/derivatives/api/v3/instruments", nothing)
    url = await stub_servers(app)
    empty = synckit.settings(
        {"kraken_futures": sim}, kraken_futures_rest_url=f"{url}/derivatives/api/v3"
    )

    with pytest.raises(EmptyUniverseError):
        await runners(empty).sync_venue("kraken_futures")

    assert await pool.fetchval("SELECT count(*) FROM markets WHERE listed") == 4
    assert await pool.fetchval("SELECT state FROM sync_runs ORDER BY run_id DESC") == "failed"


async def test_run_forever_syncs_every_venue_and_outlives_a_failing_one(
    pool: Pool, simulators: Any, runners: Any, synckit: Any
) -> None:
    kalshi = await simulators("kalshi", markets=KALSHI)
    settings = synckit.settings(
        {"kalshi": kalshi},
        venues=("kalshi", "polymarket"),
        polymarket_clob_url="http://127.0.0.1:9",  # nothing listens: every page fails
        sync_interval_s=0.2,
        rest_attempts=1,
    )
    runner: SyncRunner = runners(settings)
    task = asyncio.create_task(runner.run_forever())
    try:
        async with asyncio.timeout(20):
            while True:
                progress: Any = runner.progress()
                if progress["kalshi"]["last_report"] and progress["polymarket"]["failures"] >= 2:
                    break
                await asyncio.sleep(0.05)
        await synckit.post_lifecycle(kalshi, "KXC-26FEB01-T7", "create")

        async def created() -> bool:
            query = "SELECT count(*) FROM markets WHERE market_id = 'kalshi:KXC-26FEB01-T7'"
            return bool(await pool.fetchval(query))

        await synckit.until(created)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    progress = runner.progress()
    assert progress["kalshi"]["last_error"] is None
    assert progress["kalshi"]["failures"] == 0
    assert "127.0.0.1:9" in progress["polymarket"]["last_error"]
    assert progress["polymarket"]["last_report"] is None


async def test_real_clob_pages_sync_and_markets_without_a_token_pair_are_counted(
    pool: Pool, runners: Any, stub_servers: Any, synckit: Any
) -> None:
    page = venue_fixture("polymarket/nautilus_trader/py_http_responses/markets.json").read_bytes()
    cursors: list[str] = []

    async def markets(request: web.Request) -> web.Response:
        cursor = request.query.get("next_cursor", "")
        cursors.append(cursor)
        if not cursor:  # the real first page (next_cursor "MTAw"), then an empty last one
            return web.Response(body=page, content_type="application/json")
        return web.json_response({"limit": 100, "count": 0, "next_cursor": "LTE=", "data": []})

    app = web.Application()
    app.router.add_get("/markets", markets)
    url = await stub_servers(app)
    runner: SyncRunner = runners(
        synckit.settings({}, venues=("polymarket",), polymarket_clob_url=url)
    )

    report = await runner.sync_venue("polymarket")

    assert cursors == ["", "MTAw"]
    assert (report.pages, report.rows, report.changes) == (2, 99, 99)
    assert await pool.fetchval("SELECT skipped FROM sync_runs") == 1
    progress: Any = runner.progress()["polymarket"]
    assert progress["skipped"] == 1
    statuses = await pool.fetch("SELECT status, count(*) AS n FROM markets GROUP BY status")
    assert {r["status"] for r in statuses} == {"settled", "closed", "open"}


async def test_a_cursor_that_does_not_move_fails_the_run(
    pool: Pool, runners: Any, stub_servers: Any, synckit: Any
) -> None:
    async def series(request: web.Request) -> web.Response:
        return web.json_response({"series": []})

    async def events(request: web.Request) -> web.Response:
        return web.json_response({"events": [], "cursor": "c2FtZQ=="})

    app = web.Application()
    app.router.add_get("/trade-api/v2/series", series)
    app.router.add_get("/trade-api/v2/events", events)
    url = await stub_servers(app)
    runner: SyncRunner = runners(
        synckit.settings({}, venues=("kalshi",), kalshi_rest_url=f"{url}/trade-api/v2")
    )

    with pytest.raises(MalformedFrame, match="next cursor is the current one"):
        await runner.sync_venue("kalshi")

    row = await pool.fetchrow("SELECT state, pages, error FROM sync_runs")
    assert row is not None
    assert (row["state"], row["pages"]) == ("failed", 2)
    assert "MalformedFrame" in row["error"]
