"""A secmaster process killed (SIGKILL) mid-sync, restarted: the same end state as no crash.

The sync runs in a subprocess (``_sync_once.py``) against an in-process Kalshi simulator;
the uninterrupted sync it is compared with runs into a second, fresh database. Compared:
every market row (id, content hash, version, listed), every outbox row (market, change and
payload, less the outbox id and commit time, which differ by construction), the status
history, tokens, series and events.

Two kill points: while staging (paced to a few pages a second, killed once pages are
staged) and inside the apply transaction (held there by a lock the test takes on the
outbox table, so the kill lands after the transaction wrote markets rows and before it
could commit).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest

from ssmd.contracts.reference import decode_reference
from ssmd.db import Pool
from ssmd.secmaster.sync.runner import sync_lock_key
from ssmd.simulator.app import Simulator

SCRIPT = Path(__file__).with_name("_sync_once.py")
KALSHI_PATH = "/trade-api/v2"


async def start_sync(dsn: str, sim: Simulator, requests_per_s: float) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        dsn,
        "kalshi",
        f"{sim.url}{KALSHI_PATH}",
        str(requests_per_s),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(process: asyncio.subprocess.Process) -> dict[str, Any]:
    """Wait for a sync process to end well; its report."""
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=90)
    assert process.returncode == 0, stderr.decode()
    report: dict[str, Any] = json.loads(stdout.decode().strip().splitlines()[-1])
    return report


async def kill(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGKILL)
    await process.communicate()
    assert process.returncode == -signal.SIGKILL


async def wait_for_lock_release(pool: Pool, synckit: Any) -> None:
    """Until the dead process's session (and its sync lock) is gone from the server."""

    async def free() -> bool:
        async with pool.acquire() as conn:
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", sync_lock_key("kalshi")):
                await conn.execute("SELECT pg_advisory_unlock($1)", sync_lock_key("kalshi"))
                return True
        return False

    await synckit.until(free, timeout_s=30)


async def state(pool: Pool) -> dict[str, list[Any]]:
    """Everything a sync writes, without ids and times that differ between databases."""
    outbox = []
    for row in await pool.fetch("SELECT id, market_id, change, payload FROM outbox ORDER BY id"):
        reference = decode_reference(bytes(row["payload"]))
        assert reference.outbox_id == row["id"]
        payload = msgspec.to_builtins(msgspec.structs.replace(reference, outbox_id=1, ts_ns=0))
        outbox.append((row["market_id"], row["change"], json.dumps(payload, sort_keys=True)))
    queries = {
        "markets": "SELECT market_id, content_hash, version, listed FROM markets",
        "history": "SELECT market_id, status, result, source FROM status_history",
        "tokens": "SELECT token_id, market_id, outcome, is_yes FROM tokens",
        "series": "SELECT venue, series, title, category, tags, attributes FROM series",
        "events": "SELECT venue, event, series, title, sub_title, category FROM events",
    }
    found: dict[str, list[Any]] = {"outbox": sorted(outbox)}
    for name, query in queries.items():
        found[name] = sorted(tuple(row) for row in await pool.fetch(query))
    return found


async def uninterrupted(second_dsn: str, sim: Simulator, runners: Any, synckit: Any) -> Any:
    second = await synckit.open_pool(second_dsn)
    try:
        report = await runners(synckit.settings({"kalshi": sim}), on=second).sync_venue("kalshi")
        return report, await state(second)
    finally:
        await second.close()


@pytest.fixture
def databases(postgres_dsn: str, second_dsn: str) -> tuple[str, str]:
    """(the database `pool` works on, a second fresh one for the uninterrupted sync)."""
    return postgres_dsn, second_dsn


@pytest.mark.system
@pytest.mark.timeout(120)
async def test_killed_while_staging_then_restarted_ends_as_an_uninterrupted_sync(
    pool: Pool, databases: tuple[str, str], simulators: Any, runners: Any, synckit: Any
) -> None:
    postgres_dsn, second_dsn = databases
    sim = await simulators("kalshi", markets=synckit.kalshi_tickers(10_000))
    # 1 series page, 5 event pages (200 events each), 10 market pages (1000 markets each).
    process = await start_sync(postgres_dsn, sim, requests_per_s=5.0)

    async def market_pages_staged() -> bool:
        return bool(await pool.fetchval("SELECT coalesce(max(pages), 0) >= 9 FROM sync_runs"))

    await synckit.until(market_pages_staged, timeout_s=60)
    await kill(process)
    run = await pool.fetchrow("SELECT run_id, state, pages, staged, cursor FROM sync_runs")
    assert run is not None
    assert run["state"] == "staging"
    assert 9 <= run["pages"] < 16
    assert run["cursor"].startswith("markets:")
    staged = await pool.fetchval("SELECT count(*) FROM sync_staging WHERE kind = 'market'")
    assert staged == (run["pages"] - 6) * 1000 > 0
    assert await pool.fetchval("SELECT count(*) FROM markets") == 0
    assert await synckit.outbox_count(pool) == 0
    await wait_for_lock_release(pool, synckit)

    resumed = await finish(await start_sync(postgres_dsn, sim, requests_per_s=1000.0))

    assert (resumed["run_id"], resumed["resumed"], resumed["pages"]) == (run["run_id"], True, 16)
    assert resumed["requests"] == 16 - run["pages"]  # no page fetched twice
    assert (resumed["rows"], resumed["changes"]) == (10_000, 10_000)
    report, expected = await uninterrupted(second_dsn, sim, runners, synckit)
    assert (report.pages, report.rows, report.changes, report.resumed) == (
        16,
        10_000,
        10_000,
        False,
    )
    assert await state(pool) == expected
    assert len(expected["markets"]) == 10_000
    assert len(expected["events"]) == 1_000


@pytest.mark.system
@pytest.mark.timeout(120)
async def test_killed_inside_the_apply_transaction_then_restarted_applies_once(
    pool: Pool, databases: tuple[str, str], simulators: Any, runners: Any, synckit: Any
) -> None:
    postgres_dsn, second_dsn = databases
    sim = await simulators("kalshi", markets=synckit.kalshi_tickers(3_000))
    async with pool.acquire() as blocker:
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute("LOCK TABLE outbox IN EXCLUSIVE MODE")
        process = await start_sync(postgres_dsn, sim, requests_per_s=1000.0)

        async def apply_waits_on_the_outbox() -> bool:
            return bool(
                await pool.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE '%INSERT INTO outbox%'"
                )
            )

        await synckit.until(apply_waits_on_the_outbox, timeout_s=60)
        # Inside the apply transaction, which wrote its markets rows already (uncommitted).
        await kill(process)
        await transaction.rollback()
    await wait_for_lock_release(pool, synckit)
    run = await pool.fetchrow("SELECT run_id, state, pages, cursor FROM sync_runs")
    assert run is not None
    assert (run["state"], run["cursor"], run["pages"]) == ("staging", "", 1 + 2 + 3)
    assert await pool.fetchval("SELECT count(*) FROM sync_staging WHERE kind = 'market'") == 3_000
    assert await pool.fetchval("SELECT count(*) FROM markets") == 0
    assert await pool.fetchval("SELECT count(*) FROM events") == 0
    assert await synckit.outbox_count(pool) == 0

    resumed = await finish(await start_sync(postgres_dsn, sim, requests_per_s=1000.0))

    assert (resumed["run_id"], resumed["resumed"], resumed["requests"]) == (run["run_id"], True, 0)
    assert resumed["changes"] == 3_000
    _, expected = await uninterrupted(second_dsn, sim, runners, synckit)
    assert await state(pool) == expected
