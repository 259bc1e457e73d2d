"""Acceptance: a burst of 10,000 changes reaches ``SECMASTER`` exactly once, in commit order per
market, while the secmaster process is SIGKILLed and nats-server restarts at random points.

Real processes: ``python -m ssmd.secmaster`` (syncing Kraken Futures from a simulator
process, so the whole service runs, not just its relay), the session's file-storage
nats-server and PostgreSQL. The burst is written by this test through `store.apply_records`
(2,000 Kalshi markets x 5 versions, 1,000 markets per transaction, over about four
seconds) while faults hit; then the stream is read whole with `OrderedTail` and compared
with the outbox.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import time
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from prometheus_client import CollectorRegistry

from ssmd.bus import Message, connect
from ssmd.contracts.reference import decode_reference
from ssmd.contracts.subjects import ref_subject
from ssmd.db import Record, create_pool
from ssmd.embedded import NatsServer, ServiceProcess, free_port
from ssmd.secmaster.relay import outbox_id_of

if TYPE_CHECKING:
    from conftest import Kit

pytestmark = [pytest.mark.system, pytest.mark.timeout(150)]

MARKETS = 2000
VERSIONS = 5
SCHEMA = "secmaster"


async def _prepare(kit: type[Kit], nats_url: str, dsn: str) -> None:
    """An empty SECMASTER stream and a migrated database."""
    bus = await connect(kit.bus_settings(nats_url), registry=CollectorRegistry())
    try:
        await kit.reset_secmaster_stream(bus)
    finally:
        await bus.close()
    pool = await kit.open_pool(dsn)
    await pool.close()


async def _burst(kit: type[Kit], dsn: str, *, chunk: int, pause_s: float) -> None:
    """Version rounds of every market, committed `chunk` markets per transaction."""
    pool = await create_pool(dsn, schema=SCHEMA, max_size=2)
    try:
        for version in range(1, VERSIONS + 1):
            for first in range(0, MARKETS, chunk):
                records = [
                    kit.market("kalshi", f"KXBURST-{n:04d}", title=f"burst v{version}")
                    for n in range(first, min(first + chunk, MARKETS))
                ]
                await kit.apply(pool, "kalshi", records)
                await asyncio.sleep(pause_s)
    finally:
        await pool.close()


async def _burst_under_faults(
    kit: type[Kit], dsn: str, secmaster: ServiceProcess, nats: NatsServer
) -> list[int]:
    """Write the burst while faults hit; each fault lands just after a commit, while the
    relay publishes it. Returns the unsent outbox rows seen as each fault hit."""
    rng = random.Random(20251130)
    pool = await create_pool(dsn, schema=SCHEMA, min_size=1, max_size=1)
    writer = asyncio.create_task(_burst(kit, dsn, chunk=1000, pause_s=0.3), name="burst")
    behind: list[int] = []
    try:
        for fault in ("kill", "kill", "nats", "kill"):
            await asyncio.sleep(rng.uniform(0.2, 0.5))
            for _ in range(10_000):  # until a commit is waiting (2 ms polls, 20 s at most)
                if writer.done() or await kit.unsent(pool):
                    break
                await asyncio.sleep(0.002)
            await asyncio.sleep(rng.uniform(0.0, 0.03))
            behind.append(await kit.unsent(pool))
            if fault == "kill":
                await asyncio.to_thread(secmaster.kill)  # SIGKILL mid-round
                await asyncio.to_thread(secmaster.start)
            else:
                await asyncio.to_thread(nats.kill)  # file storage: stream and dedup survive
                await asyncio.sleep(rng.uniform(0.1, 0.5))
                await asyncio.to_thread(nats.start)
        await writer
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        await pool.close()
    return behind


def _terminate(process: ServiceProcess, timeout_s: float = 30.0) -> int | None:
    """SIGTERM the process as Kubernetes would; its exit status (None if it hung)."""
    os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while process.returncode is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return process.returncode


async def _outcome(kit: type[Kit], nats_url: str, dsn: str) -> tuple[list[Record], list[Message]]:
    pool = await create_pool(dsn, schema=SCHEMA, max_size=2)
    bus = await connect(kit.bus_settings(nats_url), registry=CollectorRegistry())
    try:
        await kit.wait_until_sent(pool, timeout_s=60)
        rows = await pool.fetch("SELECT id, venue, market_id, change FROM outbox ORDER BY id")
        messages = await kit.read_stream(bus, timeout_s=30)
    finally:
        await bus.close()
        await pool.close()
    return list(rows), messages


def test_secmaster_sigkilled_and_nats_restarted_mid_burst_stores_each_change_once_in_order(
    nats_server: NatsServer, nats_url: str, postgres_dsn: str, tmp_path: Path, kit: type[Kit]
) -> None:
    asyncio.run(_prepare(kit, nats_url, postgres_dsn))
    venue_port = free_port()
    simulator = ServiceProcess(
        "ssmd.simulator",
        tmp_path / "simulator",
        env={
            "SSMD_SIMULATOR_VENUE": "kraken_futures",
            "SSMD_SIMULATOR_PORT": str(venue_port),
            "SSMD_SIMULATOR_MARKETS": json.dumps(list(kit.KRAKEN_MARKETS)),
            "SSMD_SIMULATOR_EVENTS_PER_S": "1",
            "SSMD_RUNTIME_LOG_FORMAT": "text",
        },
    )
    simulator.start()
    venue_url = f"http://127.0.0.1:{venue_port}"
    secmaster = ServiceProcess(
        "ssmd.secmaster",
        tmp_path / "secmaster",
        env={
            "SSMD_DB_DSN": postgres_dsn,
            "SSMD_BUS_URLS": nats_url,
            "SSMD_BUS_RECONNECT_MAX_S": "0.5",
            "SSMD_BUS_PUBLISH_ACK_TIMEOUT_S": "1",
            "SSMD_SECMASTER_VENUES": "kraken_futures",
            "SSMD_SECMASTER_KRAKEN_FUTURES_REST_URL": f"{venue_url}/derivatives/api/v3",
            "SSMD_SECMASTER_PORT": "0",
            "SSMD_SECMASTER_RELAY_BATCH": "50",
            "SSMD_SECMASTER_FOLLOW_STATUS_EVENTS": "false",
            "SSMD_RUNTIME_LOG_FORMAT": "text",
        },
    )
    try:
        secmaster.start()
        behind = asyncio.run(_burst_under_faults(kit, postgres_dsn, secmaster, nats_server))
        rows, messages = asyncio.run(_outcome(kit, nats_url, postgres_dsn))
        assert _terminate(secmaster) == 0  # SIGTERM drains and closes everything cleanly
    except BaseException:
        print(secmaster.log_tail(20_000))  # shown by pytest on failure
        raise
    finally:
        secmaster.stop()
        simulator.stop()

    print("unsent outbox rows when the faults hit:", behind)  # shown with -s
    assert sum(1 for count in behind if count) >= 2, f"faults missed the burst: {behind}"
    burst_rows = [row for row in rows if row["venue"] == "kalshi"]
    assert len(burst_rows) == MARKETS * VERSIONS
    # Every outbox row exactly once, on its subject.
    stored = [outbox_id_of(message.msg_id) for message in messages]
    assert sorted(i for i in stored if i is not None) == [row["id"] for row in rows]
    assert len(stored) == len(set(stored)) == len(rows)
    by_id = {row["id"]: row for row in rows}
    versions: dict[str, list[int]] = defaultdict(list)
    for message, outbox_id in zip(messages, stored, strict=True):
        row = by_id[outbox_id]
        assert message.subject == ref_subject(row["venue"], row["change"], row["market_id"])
        record = decode_reference(message.data)
        versions[record.market].append(record.version)
    # Per market, versions 1, 2, 3... in stream order (commit order).
    for market, seen in versions.items():
        assert seen == list(range(1, len(seen) + 1)), (market, seen)
    assert all(len(versions[f"kalshi:KXBURST-{n:04d}"]) == VERSIONS for n in range(MARKETS))
