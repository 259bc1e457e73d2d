"""The archiver in-process against a real nats-server: streams in, Parquet out, DLQ, drain,
and bounded memory over a large backlog."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from ssmd.archiver.service import Archiver
from ssmd.archiver.settings import ArchiverSettings
from ssmd.bus import DLQ_REASON, Bus, BusSettings, Publisher, StreamSpec, connect, provision
from ssmd.contracts.events import MarketEvent, channel_of, encode_event, event_msg_id
from ssmd.contracts.subjects import (
    dead_letter_stream,
    md_stream,
    md_subject,
    raw_stream,
    raw_subject,
)
from ssmd.core.runtime import Service

pytestmark = pytest.mark.integration


@pytest.fixture
def env() -> str:
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
async def bus(nats_url: str, env: str) -> AsyncIterator[Bus]:
    connected = await connect(
        BusSettings(urls=(nats_url,), consumer_heartbeat_s=0.5, consumer_expires_s=2.0),
        registry=CollectorRegistry(),
    )
    try:
        for stream in (
            md_stream(env, "kraken_futures"),
            raw_stream(env, "kraken_futures"),
            dead_letter_stream(env),
        ):
            await provision(connected, streams=[StreamSpec(stream.name, stream.subjects)])
        yield connected
    finally:
        await connected.close()


async def publish_events(bus: Bus, env: str, events: list[MarketEvent]) -> None:
    async with Publisher(bus) as publisher:
        for event in events:
            subject = md_subject(env, event.venue, channel_of(event), 0, event.market)
            await publisher.publish(subject, encode_event(event), msg_id=event_msg_id(event))


@asynccontextmanager
async def running_archiver(
    bus: Bus, env: str, archive_dir: Path, **options: Any
) -> AsyncIterator[tuple[Archiver, CollectorRegistry]]:
    """The archiver inside a real `Service`, stopped as SIGTERM would stop it."""
    settings = ArchiverSettings(archive_dir=archive_dir, **options)
    service = Service("archiver-test")
    archiver = Archiver(settings, env, bus, registry=service.registry)
    await asyncio.to_thread(archiver.open)
    archiver.register(service)
    task = asyncio.create_task(service.run(install_signal_handlers=False), name="archiver")
    try:
        yield archiver, service.registry
    finally:
        service.request_stop()
        assert await asyncio.wait_for(task, timeout=60) == 0


async def eventually(check: Callable[[], Awaitable[bool] | bool], timeout_s: float = 60) -> None:
    async with asyncio.timeout(timeout_s):
        while True:  # polling files and server state, which have no event to wait on
            result = check()
            if result if isinstance(result, bool) else await result:
                return
            await asyncio.sleep(0.1)


def committed_rows(archive_dir: Path, kit: Any) -> int:
    files = f"{archive_dir}/venue=*/channel=*/**/*.parquet"
    if not list(kit.parquet_files(archive_dir)):
        return 0
    [(count,)] = kit.duck("SELECT count(*) FROM {src}", files, "union_by_name = true")
    return int(count)


def raw_lines(archive_dir: Path) -> int:
    files = archive_dir.glob("venue=*/channel=raw/*/*/*.jsonl")
    return sum(len(f.read_bytes().splitlines()) for f in files)


async def test_events_raw_frames_and_poison_reach_archive_and_dlq(
    bus: Bus, env: str, archive_dir: Path, kit: Any
) -> None:
    events = [kit.make_event(i) for i in range(700)]
    await publish_events(bus, env, events)
    async with Publisher(bus) as publisher:
        await publisher.publish(
            md_subject(env, kit.VENUE, "trade", 0, kit.MARKETS[0]), b"{not json", msg_id="bad-1"
        )
        for i in range(50):
            await publisher.publish(raw_subject(env, kit.VENUE, 0), b"frame %d" % i, msg_id=f"r{i}")

    async with running_archiver(bus, env, archive_dir, flush_interval_s=0.2) as (_, registry):
        await eventually(lambda: committed_rows(archive_dir, kit) == 700)
        await eventually(lambda: raw_lines(archive_dir) == 50)

        dlq = dead_letter_stream(env).name

        async def dead_lettered() -> bool:
            return bool((await bus.js.stream_info(dlq)).state.messages == 1)

        await eventually(dead_lettered)
        letter = await bus.js.get_msg(dlq, 1)
        assert letter.data == b"{not json"
        assert "malformed market event JSON" in (letter.headers or {})[DLQ_REASON]
        labels = {"stream": md_stream(env, kit.VENUE).name}
        assert registry.get_sample_value("ssmd_archiver_dead_lettered_total", labels) == 1
        trades = {"venue": kit.VENUE, "type": "trade"}
        assert registry.get_sample_value("ssmd_archiver_events_written_total", trades) == 100

    # Every event once, found by its msg id, in its own channel, with its exact market id.
    by_type: dict[str, set[tuple[str, str]]] = {}
    for event in events:
        tag = type(event).__struct_config__.tag
        by_type.setdefault(str(tag), set()).add((event_msg_id(event), event.market))
    for tag, expected in by_type.items():
        rows = kit.archived(archive_dir, tag, "msg_id, market")
        assert len(rows) == len(expected)
        assert set(rows) == expected


async def test_sigterm_flushes_what_is_buffered_before_exit(
    bus: Bus, env: str, archive_dir: Path, kit: Any
) -> None:
    events = [kit.make_event(i * 7) for i in range(300)]
    await publish_events(bus, env, events)
    # A flush would wait 60 s: only the drain can write these.
    async with running_archiver(
        bus, env, archive_dir, flush_interval_s=60, ack_wait_s=300, include_raw=False
    ) as (archiver, _):
        consumer = archiver.streams[0].consumer
        await eventually(lambda: consumer.buffered == 300)
        assert committed_rows(archive_dir, kit) == 0
    assert committed_rows(archive_dir, kit) == 300
    info = await bus.js.consumer_info(md_stream(env, kit.VENUE).name, "archiver-md")
    assert (info.num_pending, info.num_ack_pending) == (0, 0)


async def test_a_large_backlog_is_archived_within_the_memory_bound(
    bus: Bus, env: str, archive_dir: Path, kit: Any
) -> None:
    total = 300_000
    events = [kit.make_event(i % 7, ts_event_ns=kit.BASE_NS + i) for i in range(total)]
    await publish_events(bus, env, events)
    async with running_archiver(
        bus,
        env,
        archive_dir,
        include_raw=False,
        flush_rows=10_000,
        max_buffered_rows=25_000,
        flush_interval_s=0.5,
    ) as (archiver, registry):
        await eventually(lambda: committed_rows(archive_dir, kit) >= total, timeout_s=110)
        labels = {"stream": md_stream(env, kit.VENUE).name}
        high_water = registry.get_sample_value("ssmd_archiver_buffered_rows_high_water", labels)
        assert high_water is not None
        assert 10_000 <= high_water <= 25_000
        assert archiver.streams[0].consumer.buffered_high_water == high_water
    assert committed_rows(archive_dir, kit) == total
    files = f"{archive_dir}/venue=*/channel=*/**/*.parquet"
    distinct = kit.duck(
        "SELECT count(DISTINCT stream_seq) FROM {src}", files, "union_by_name = true"
    )
    assert distinct == [(total,)]


async def test_a_stream_created_after_start_is_waited_for_then_archived(
    nats_url: str, archive_dir: Path, kit: Any
) -> None:
    env = "t" + uuid.uuid4().hex[:10]
    bus = await connect(BusSettings(urls=(nats_url,)), registry=CollectorRegistry())
    try:
        options = {"include_raw": False, "flush_interval_s": 0.2}
        async with running_archiver(bus, env, archive_dir, **options) as (archiver, _):
            await asyncio.sleep(1.0)  # the consumer finds no stream and retries
            assert archiver.streams[0].manifest.committed.count == 0
            stream = md_stream(env, kit.VENUE)
            await provision(bus, streams=[StreamSpec(stream.name, stream.subjects)])
            await publish_events(bus, env, [kit.make_event(i) for i in range(10)])
            await eventually(lambda: archiver.streams[0].manifest.committed.count == 10, 30)
    finally:
        await bus.close()
