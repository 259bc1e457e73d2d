"""The MarketStatus follower: lifecycle events on the md streams become status changes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import nats.js.errors
import pytest
from prometheus_client import CollectorRegistry

from ssmd.bus import (
    DLQ_REASON,
    Bus,
    Message,
    OrderedTail,
    StreamSpec,
    TailStart,
    provision,
    publish_one,
)
from ssmd.contracts.events import MarketStatus, Trade, encode_event, event_msg_id
from ssmd.contracts.subjects import dead_letter_stream, md_stream, md_subject
from ssmd.core.clock import LiveClock
from ssmd.db import Pool
from ssmd.secmaster.metrics import SecmasterMetrics
from ssmd.secmaster.status import StatusFollower
from ssmd.secmaster.store import load_record

if TYPE_CHECKING:
    from conftest import Kit

MARKET = "kalshi:KXHIGHNY-25NOV30-B53.5"


@pytest.fixture
def env() -> str:
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
async def follower(
    pool: Pool, bus: Bus, env: str, registry: CollectorRegistry
) -> AsyncIterator[StatusFollower]:
    """A running follower of Kalshi's md stream (created here, as a connector would)."""
    md, dlq = md_stream(env, "kalshi"), dead_letter_stream(env)
    await provision(
        bus, streams=[StreamSpec(md.name, md.subjects), StreamSpec(dlq.name, dlq.subjects)]
    )
    running = StatusFollower(
        pool,
        bus,
        env=env,
        venues=["kalshi"],
        clock=LiveClock(),
        metrics=SecmasterMetrics(registry),
    )
    task = asyncio.create_task(running.run(), name="status-follower")
    try:
        for _ in range(500):  # the consumer starts at new messages: wait until it exists
            try:
                await bus.js.consumer_info(md.name, "secmaster-status")
                break
            except nats.js.errors.NotFoundError:
                await asyncio.sleep(0.01)
        yield running
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        for stream in (md, dlq):
            await bus.js.delete_stream(stream.name)


def _status(status: str, result: str | None = None, ts_event_ns: int = 1) -> MarketStatus:
    return MarketStatus(
        venue="kalshi",
        market=MARKET,
        ts_event_ns=ts_event_ns,
        ts_recv_ns=ts_event_ns + 5,
        status=status,  # type: ignore[arg-type]
        result=result,
    )


async def _publish(bus: Bus, env: str, payload: bytes, msg_id: str) -> None:
    await publish_one(bus, md_subject(env, "kalshi", "status", 0, MARKET), payload, msg_id=msg_id)


@pytest.mark.usefixtures("follower")
async def test_a_status_event_becomes_a_status_change_with_its_outbox_row(
    pool: Pool, bus: Bus, env: str, kit: type[Kit]
) -> None:
    await kit.apply(pool, "kalshi", [kit.market("kalshi", MARKET[7:], status="open")])
    determined = _status("determined", "yes", ts_event_ns=kit.NOW_NS)
    await _publish(bus, env, encode_event(determined), event_msg_id(determined))

    async def recorded() -> bool:
        async with pool.acquire() as conn:
            found = await load_record(conn, MARKET)
        return found is not None and found[0].status == "determined"

    await kit.eventually(recorded, "the status event to be recorded")
    async with pool.acquire() as conn:
        found = await load_record(conn, MARKET)
    assert found is not None
    record, version = found
    assert (record.result, version) == ("yes", 2)
    changes = await pool.fetch("SELECT change FROM outbox ORDER BY id")
    assert [row["change"] for row in changes] == ["created", "status"]
    history = await pool.fetch("SELECT status, source FROM status_history ORDER BY id")
    assert [(row["status"], row["source"]) for row in history] == [
        ("open", "rest"),
        ("determined", "bus"),
    ]


@pytest.mark.usefixtures("follower")
async def test_repeated_and_unrelated_events_change_nothing(
    pool: Pool, bus: Bus, env: str, registry: CollectorRegistry, kit: type[Kit]
) -> None:
    await kit.apply(pool, "kalshi", [kit.market("kalshi", MARKET[7:], status="open")])
    paused = _status("paused")
    await _publish(bus, env, encode_event(paused), "first")
    await _publish(bus, env, encode_event(paused), "again")  # a venue repeat, a new msg id
    trade = Trade(venue="kalshi", market=MARKET, ts_event_ns=1, ts_recv_ns=2, price="0.5", size="1")
    await _publish(bus, env, encode_event(trade), event_msg_id(trade))

    def events(outcome: str) -> float:
        labels = {"venue": "kalshi", "outcome": outcome}
        return registry.get_sample_value("ssmd_secmaster_status_events_total", labels) or 0.0

    async def handled() -> bool:
        return sum(events(o) for o in ("recorded", "unchanged", "ignored")) == 3

    await kit.eventually(handled, "three events handled")
    assert (events("recorded"), events("unchanged"), events("ignored")) == (1, 1, 1)
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE change = 'status'") == 1


@pytest.mark.usefixtures("follower")
async def test_an_event_that_breaks_the_contract_goes_to_the_dead_letter_stream(
    bus: Bus, env: str, kit: type[Kit]
) -> None:
    await _publish(bus, env, b'{"type": "market_status", "venue": "kalshi"}', "broken")
    got: list[Message] = []

    async def keep(message: Message) -> None:
        got.append(message)

    dlq = dead_letter_stream(env)
    tail = OrderedTail(bus, dlq.name, dlq.subjects, keep, start=TailStart.everything())
    task = asyncio.create_task(tail.run(), name="dlq-reader")
    try:

        async def dead_lettered() -> bool:
            return bool(got)

        await kit.eventually(dead_lettered, "a dead letter")
    finally:
        tail.stop()
        await task
    assert got[0].data == b'{"type": "market_status", "venue": "kalshi"}'
    assert "invalid market event" in got[0].headers[DLQ_REASON]
    assert got[0].subject == f"dlq.{env}.secmaster.status"
