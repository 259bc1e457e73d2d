"""Exactly once across crashes: the archiver process SIGKILLed again and again while events
flow, and nats-server SIGKILLed and restarted (file storage) while it archives.

The archiver runs as a real subprocess (`python -m ssmd.archiver`); the archive is read back
with plain DuckDB and json, and every published event must be there exactly once.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from prometheus_client import CollectorRegistry

from ssmd.bus import Bus, BusSettings, Publisher, StreamSpec, connect, provision
from ssmd.contracts.events import MarketEvent, channel_of, encode_event, event_msg_id
from ssmd.contracts.subjects import (
    dead_letter_stream,
    md_stream,
    md_subject,
    raw_stream,
    raw_subject,
)
from ssmd.embedded import NatsServer, ServiceProcess

pytestmark = pytest.mark.system

CHUNK = 500


def archiver_process(run_dir: Path, nats_url: str, env: str, archive_dir: Path) -> ServiceProcess:
    return ServiceProcess(
        "ssmd.archiver",
        run_dir,
        env={
            "SSMD_RUNTIME_ENV": env,
            "SSMD_RUNTIME_LOG_FORMAT": "text",
            "SSMD_BUS_URLS": nats_url,
            "SSMD_BUS_RECONNECT_MAX_S": "0.5",
            "SSMD_BUS_CONSUMER_HEARTBEAT_S": "0.5",
            "SSMD_BUS_CONSUMER_EXPIRES_S": "2",
            "SSMD_ARCHIVER_ARCHIVE_DIR": str(archive_dir),
            "SSMD_ARCHIVER_FLUSH_ROWS": "700",
            "SSMD_ARCHIVER_FLUSH_INTERVAL_S": "0.2",
            "SSMD_ARCHIVER_MAX_BUFFERED_ROWS": "2000",
            "SSMD_ARCHIVER_FETCH_BATCH": "256",
            # Short, so messages held by a killed archiver come back quickly.
            "SSMD_ARCHIVER_ACK_WAIT_S": "2",
        },
        wait_ready=True,
    )


async def open_bus(url: str, env: str) -> Bus:
    bus = await connect(
        BusSettings(urls=(url,), reconnect_initial_s=0.05, reconnect_max_s=0.5),
        registry=CollectorRegistry(),
    )
    for stream in (md_stream(env, "kraken_futures"), raw_stream(env, "kraken_futures")):
        await provision(bus, streams=[StreamSpec(stream.name, stream.subjects)])
    dlq = dead_letter_stream(env)
    await provision(bus, streams=[StreamSpec(dlq.name, dlq.subjects)])
    return bus


@pytest.fixture
def env() -> str:
    return "t" + uuid.uuid4().hex[:10]


async def publish(bus: Bus, env: str, events: list[MarketEvent], *, pace_s: float = 0.0) -> None:
    """Each event, and a raw frame for every other one, in chunks `pace_s` apart."""
    raw = raw_subject(env, "kraken_futures", 0)
    async with Publisher(bus) as publisher:
        for start in range(0, len(events), CHUNK):
            for event in events[start : start + CHUNK]:
                subject = md_subject(env, event.venue, channel_of(event), 0, event.market)
                msg_id = event_msg_id(event)
                await publisher.publish(subject, encode_event(event), msg_id=msg_id)
                if event.seq is not None and event.seq % 2 == 0:
                    await publisher.publish(raw, b"frame " + msg_id.encode(), msg_id="r" + msg_id)
            await publisher.flush()
            await asyncio.sleep(pace_s)


def archived_msg_ids(archive_dir: Path) -> list[str]:
    """msg_id of every Parquet row of the archive (DuckDB, Hive partitioning)."""
    files = list(archive_dir.glob("venue=*/channel=*/date=*/hour=*/*.parquet"))
    if not files:
        return []
    template = (
        "SELECT msg_id FROM read_parquet('{files}', hive_partitioning = true, union_by_name = true)"
    )
    query = template.replace("{files}", f"{archive_dir}/**/*.parquet")
    return [row[0] for row in duckdb.sql(query).fetchall()]


def archived_frames(archive_dir: Path) -> list[str]:
    out = []
    for path in archive_dir.glob("venue=*/channel=raw/date=*/hour=*/*.jsonl"):
        out.extend(json.loads(line)["msg_id"] for line in path.read_text().splitlines())
    return out


def complete(archive_dir: Path, want: set[str], want_raw: set[str]) -> bool:
    try:  # a reader may race a restart deleting an uncommitted file: just look again
        return (
            set(archived_msg_ids(archive_dir)) == want
            and set(archived_frames(archive_dir)) == want_raw
        )
    except (duckdb.Error, OSError, json.JSONDecodeError):
        return False


async def eventually(check: Callable[[], Awaitable[bool] | bool], timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        while True:  # polling the files, which have no event to wait on
            result = check()
            if result if isinstance(result, bool) else await result:
                return
            await asyncio.sleep(0.2)


def terminate(process: ServiceProcess) -> int | None:
    """SIGTERM the archiver as Kubernetes would; its exit status."""
    os.killpg(process.pid, signal.SIGTERM)
    for _ in range(300):  # 30 s at most, like the drain timeout
        if process.returncode is not None:
            break
        time.sleep(0.1)
    code = process.returncode
    process.stop()
    return code


def assert_exactly_once(archive_dir: Path, want: set[str], want_raw: set[str]) -> None:
    ids = archived_msg_ids(archive_dir)
    assert len(ids) == len(want)
    assert set(ids) == want
    frames = archived_frames(archive_dir)
    assert len(frames) == len(want_raw)
    assert set(frames) == want_raw


async def test_archiver_sigkilled_repeatedly_mid_stream_archives_every_event_once(
    nats_url: str, env: str, tmp_path: Path, kit: Any
) -> None:
    total = 20_000
    events = [kit.make_event(i, ts_event_ns=kit.BASE_NS + i * 50_000_000) for i in range(total)]
    want = {event_msg_id(e) for e in events}
    want_raw = {"r" + event_msg_id(e) for e in events if e.seq is not None and e.seq % 2 == 0}
    archive_dir = tmp_path / "archive"
    bus = await open_bus(nats_url, env)
    process = archiver_process(tmp_path / "run", nats_url, env, archive_dir)
    rng = random.Random(7)
    try:
        process.start()
        publishing = asyncio.create_task(publish(bus, env, events, pace_s=0.1))
        kills = 0
        while not publishing.done() or kills < 3:
            await asyncio.sleep(rng.uniform(0.3, 1.0))
            process.kill()
            kills += 1
            process.start()  # recovers from the manifest, resumes the durable consumers
        await publishing
        await eventually(lambda: complete(archive_dir, want, want_raw), timeout_s=60)
        assert terminate(process) == 0
        assert_exactly_once(archive_dir, want, want_raw)
        # A clean restart removes nothing that was committed.
        process.start()
        assert terminate(process) == 0
        assert_exactly_once(archive_dir, want, want_raw)
    finally:
        process.stop()
        await bus.close()
    assert kills >= 3


async def test_nats_server_sigkilled_and_restarted_mid_archiving_loses_and_duplicates_nothing(
    env: str, tmp_path: Path, kit: Any
) -> None:
    total = 16_000
    events = [kit.make_event(i, ts_event_ns=kit.BASE_NS + i * 50_000_000) for i in range(total)]
    want = {event_msg_id(e) for e in events}
    want_raw = {"r" + event_msg_id(e) for e in events if e.seq is not None and e.seq % 2 == 0}
    archive_dir = tmp_path / "archive"
    with NatsServer(tmp_path / "nats", store="file") as server:
        bus = await open_bus(server.url, env)
        process = archiver_process(tmp_path / "run", server.url, env, archive_dir)
        try:
            process.start()
            await publish(bus, env, events[: total // 2])
            await eventually(lambda: len(archived_msg_ids(archive_dir)) >= 2_000, timeout_s=60)
            server.kill()  # mid-archiving: pulls, acks and flushes are in flight
            await asyncio.sleep(1.0)
            server.start()

            async def reconnected() -> bool:
                return bus.is_connected

            await eventually(reconnected, timeout_s=30)
            await publish(bus, env, events[total // 2 :])
            await eventually(lambda: complete(archive_dir, want, want_raw), timeout_s=90)
            assert terminate(process) == 0
            assert_exactly_once(archive_dir, want, want_raw)
        finally:
            process.stop()
            await bus.close()
