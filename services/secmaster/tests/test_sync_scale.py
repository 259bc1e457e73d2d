"""50,000 simulated markets on the three venues: a full sync, then one that changes nothing."""

from __future__ import annotations

import time
from typing import Any

import pytest

from ssmd.db import Pool
from ssmd.secmaster.sync import SyncRunner

KALSHI_MARKETS = 32_000  # 3,200 events of 10 strikes, 10 series
POLYMARKET_MARKETS = 17_800
KRAKEN_MARKETS = 200
TOTAL = KALSHI_MARKETS + POLYMARKET_MARKETS + KRAKEN_MARKETS


@pytest.mark.system
@pytest.mark.timeout(110)
async def test_fifty_thousand_markets_sync_and_a_second_sync_changes_nothing(
    pool: Pool, simulators: Any, runners: Any, synckit: Any
) -> None:
    assert TOTAL == 50_000
    sims = {
        "kalshi": await simulators("kalshi", markets=synckit.kalshi_tickers(KALSHI_MARKETS)),
        "kraken_futures": await simulators(
            "kraken_futures", markets=synckit.kraken_symbols(KRAKEN_MARKETS)
        ),
        "polymarket": await simulators(
            "polymarket", markets=synckit.polymarket_slugs(POLYMARKET_MARKETS)
        ),
    }
    runner: SyncRunner = runners(synckit.settings(sims))

    started = time.perf_counter()
    first = await runner.sync_all()
    first_s = time.perf_counter() - started
    started = time.perf_counter()
    second = await runner.sync_all()
    second_s = time.perf_counter() - started

    print(
        f"\n50k sync: first {first_s:.1f} s "
        + ", ".join(f"{r.venue} {r.rows} rows/{r.pages} pages {r.seconds:.1f} s" for r in first)
        + f"; second {second_s:.1f} s, {sum(r.changes for r in second)} changes"
    )
    assert {r.venue: r.rows for r in first} == {
        "kalshi": KALSHI_MARKETS,
        "kraken_futures": KRAKEN_MARKETS,
        "polymarket": POLYMARKET_MARKETS,
    }
    assert sum(r.changes for r in first) == TOTAL
    assert await pool.fetchval("SELECT count(*) FROM markets WHERE listed") == TOTAL
    assert await synckit.outbox_count(pool) == TOTAL
    assert await pool.fetchval("SELECT count(*) FROM tokens") == 2 * POLYMARKET_MARKETS
    assert [r.changes for r in second] == [0, 0, 0]
    assert await synckit.outbox_count(pool) == TOTAL
    assert await pool.fetchval("SELECT max(version) FROM markets") == 1
