"""One secmaster sync of one venue in a process of its own (the crash tests kill it).

Usage: ``python _sync_once.py DSN VENUE REST_URL REQUESTS_PER_S``. Migrates the schema,
runs `SyncRunner.sync_venue` and prints one JSON line: the report and the REST requests
this process made. Not a test module (pytest collects only ``test_*.py``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import sys
from pathlib import Path
from typing import Any

import aiohttp

import ssmd.secmaster
from ssmd.core.clock import LiveClock
from ssmd.db import create_pool, migrate
from ssmd.secmaster.settings import SecmasterSettings
from ssmd.secmaster.sync import SyncRunner

URL_SETTING = {
    "kalshi": "kalshi_rest_url",
    "kraken_futures": "kraken_futures_rest_url",
    "polymarket": "polymarket_clob_url",
}


async def main(dsn: str, venue: str, url: str, requests_per_s: float) -> None:
    pool = await create_pool(dsn, schema="secmaster", max_size=4)
    try:
        migrations = Path(ssmd.secmaster.__file__).parent / "migrations"
        await migrate(pool, schema="secmaster", migrations_dir=migrations)
        values: dict[str, Any] = {
            "venues": (venue,),
            "rest_requests_per_s": requests_per_s,
            "rest_attempts": 3,
            URL_SETTING[venue]: url,
        }
        settings = SecmasterSettings(**values)
        async with aiohttp.ClientSession() as http:
            runner = SyncRunner(pool, settings, http=http, clock=LiveClock())
            report = await runner.sync_venue(venue)
            progress: dict[str, object] = runner.progress()[venue]  # type: ignore[assignment]
        print(json.dumps({**dataclasses.asdict(report), "requests": progress["requests"]}))
    finally:
        await pool.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    dsn_arg, venue_arg, url_arg, rate_arg = sys.argv[1:5]
    asyncio.run(main(dsn_arg, venue_arg, url_arg, float(rate_arg)))
