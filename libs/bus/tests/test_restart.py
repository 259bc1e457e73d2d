"""The bus rides out a nats-server SIGKILL + restart (file storage, as in production).

Delivery is at-least-once: an ack not yet on the server's disk when it died is lost, and
that message comes again. The model is an idempotent handler whose effect is keyed by msg
id (``effects`` below, standing for a table with a unique key): a redelivery is recognised
and skipped. So the tests assert that

* no message is lost: the effect holds every msg id published, and the stream holds N;
* the effect is applied exactly once per msg id (``applied`` counts first applications and
  equals N; ``redelivered`` counts the skips);
* redeliveries come only from what the kill could have left unacknowledged;
* at the end nothing is pending or unacked on the restarted server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from prometheus_client import CollectorRegistry

from ssmd.bus import (
    Bus,
    ConsumerSpec,
    DurableConsumer,
    Message,
    Publisher,
    StreamSpec,
    TemporaryPublishError,
    provision,
)
from ssmd.testing.servers import NatsServer

pytestmark = pytest.mark.integration

COUNT = 3_000
BATCH = 50
# nats-server writes a consumer's ack state to disk at most ~100 ms after an ack; waiting
# this long after the server has the acks makes them survive a SIGKILL.
ACK_STATE_WRITE_S = 1.0


@dataclass
class IdempotentEffect:
    """The handler's durable effect, keyed by msg id; optionally pauses at a mark."""

    pause_at: int | None = None
    effects: dict[str, int] = field(default_factory=dict)
    applied: int = 0
    redelivered: int = 0
    paused: asyncio.Event = field(default_factory=asyncio.Event)
    resume: asyncio.Event = field(default_factory=asyncio.Event)
    reached_third: asyncio.Event = field(default_factory=asyncio.Event)
    complete: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, message: Message) -> None:
        if self.pause_at is not None and self.applied >= self.pause_at:
            self.paused.set()
            await self.resume.wait()
        await asyncio.sleep(0)  # a real handler awaits its storage here
        key = message.msg_id or ""
        if key in self.effects:
            self.redelivered += 1
            return
        self.effects[key] = message.stream_seq
        self.applied += 1
        if self.applied >= COUNT // 3:
            self.reached_third.set()
        if self.applied == COUNT:
            self.complete.set()


async def _prepare(
    bus: Bus, unique: Callable[[str], str], *, ack_wait_s: float
) -> tuple[ConsumerSpec, list[str]]:
    name = unique("DURABLE")
    subject = name.lower()
    await provision(
        bus, streams=[StreamSpec(name=name, subjects=(f"{subject}.>",), storage="file")]
    )
    ids = [f"evt-{i}" for i in range(COUNT)]
    async with Publisher(bus) as publisher:
        for i, msg_id in enumerate(ids):
            await publisher.publish(f"{subject}.{i % 5}", msg_id.encode(), msg_id=msg_id)
    spec = ConsumerSpec(stream=name, durable="archiver", ack_wait_s=ack_wait_s, max_deliver=-1)
    return spec, ids


async def _wait_until(bus: Bus, spec: ConsumerSpec, *, ack_floor: int | None = None) -> None:
    """Until the server's ack floor reaches `ack_floor` (None: until nothing is unsettled)."""
    async with asyncio.timeout(30):
        while True:
            try:
                info = await bus.js.consumer_info(spec.stream, spec.durable)
            except Exception:  # noqa: BLE001 - the restarted server may still be loading
                info = None
            if info is not None:
                floor = info.ack_floor.stream_seq if info.ack_floor else 0
                if ack_floor is not None and floor >= ack_floor:
                    return
                if ack_floor is None and not info.num_pending and not info.num_ack_pending:
                    return
            await asyncio.sleep(0.05)


async def _kill_and_restart(server: NatsServer) -> None:
    server.kill()
    await asyncio.sleep(0.3)
    await asyncio.to_thread(server.restart)


async def _check_outcome(
    bus: Bus, spec: ConsumerSpec, ids: list[str], effect: IdempotentEffect
) -> None:
    assert effect.applied == COUNT
    assert sorted(effect.effects) == sorted(ids)
    info = await bus.js.stream_info(spec.stream)
    assert info.state.messages == COUNT


async def test_durable_consumer_survives_server_kill_with_acks_on_disk(
    bus: Bus,
    nats_server: NatsServer,
    unique: Callable[[str], str],
    registry: CollectorRegistry,
) -> None:
    """Kill after the acks of the first third reached the server's disk: none is redone.

    The ack wait is long, so what the consumer held unfinished across the restart is not
    redelivered meanwhile; it is finished and acked to the restarted server.
    """
    spec, ids = await _prepare(bus, unique, ack_wait_s=60)
    effect = IdempotentEffect(pause_at=COUNT // 3)
    consumer = DurableConsumer(
        bus, spec, effect.handle, dead_letter_subject="dlq.none", batch_size=BATCH
    )
    task = asyncio.create_task(consumer.run(), name="restart-test-consumer")
    try:
        await asyncio.wait_for(effect.paused.wait(), timeout=30)
        await _wait_until(bus, spec, ack_floor=COUNT // 3)
        await asyncio.sleep(ACK_STATE_WRITE_S)
        await _kill_and_restart(nats_server)
        effect.resume.set()
        await asyncio.wait_for(effect.complete.wait(), timeout=60)
        await _wait_until(bus, spec)
    finally:
        effect.resume.set()
        consumer.stop()
        await asyncio.wait_for(task, timeout=10)

    await _check_outcome(bus, spec, ids, effect)
    # What was received but unfinished at the kill is handled after it, for the first time.
    assert effect.redelivered == 0
    reconnects = registry.get_sample_value(
        "ssmd_bus_connection_events_total", {"event": "reconnected"}
    )
    assert (reconnects or 0) >= 1


async def test_durable_consumer_survives_server_kill_while_handling(
    bus: Bus,
    nats_server: NatsServer,
    unique: Callable[[str], str],
) -> None:
    """Kill mid-flow, acks in flight: recent work comes again and is skipped, none is lost.

    A short ack wait brings back soon whatever lost its ack.
    """
    spec, ids = await _prepare(bus, unique, ack_wait_s=2)
    effect = IdempotentEffect()
    consumer = DurableConsumer(
        bus, spec, effect.handle, dead_letter_subject="dlq.none", batch_size=BATCH
    )
    task = asyncio.create_task(consumer.run(), name="restart-test-consumer")
    try:
        await asyncio.wait_for(effect.reached_third.wait(), timeout=30)
        await _kill_and_restart(nats_server)
        applied_at_kill = effect.applied
        await asyncio.wait_for(effect.complete.wait(), timeout=60)
        await _wait_until(bus, spec)
    finally:
        consumer.stop()
        await asyncio.wait_for(task, timeout=10)

    await _check_outcome(bus, spec, ids, effect)
    assert applied_at_kill < COUNT  # the kill really happened mid-stream
    # Only work done before the kill (plus the buffer then in hand) can come again.
    assert effect.redelivered <= applied_at_kill + 2 * BATCH


async def test_publishes_lost_to_a_server_kill_are_reported_and_a_retry_stores_each_once(
    bus: Bus,
    nats_server: NatsServer,
    unique: Callable[[str], str],
) -> None:
    """Kill the server mid-publish: flush() names what may be lost; re-sending it is safe.

    Messages whose ack died with the server fail as temporary errors (timeout); some of
    them were in fact stored. Publishing the failed ones again with the same msg ids lets
    the duplicate window drop those, so the stream ends with each message exactly once.
    """
    name = unique("PUBKILL")
    subject = name.lower()
    await provision(
        bus, streams=[StreamSpec(name=name, subjects=(f"{subject}.>",), storage="file")]
    )
    ids = [f"tick-{i}" for i in range(COUNT)]
    publisher = Publisher(bus, ack_timeout_s=1.0, max_in_flight=256, retry_s=0)
    restart: asyncio.Task[None] | None = None
    try:
        to_send = ids
        for _attempt in range(5):
            for i, msg_id in enumerate(to_send):
                await publisher.publish(f"{subject}.x", msg_id.encode(), msg_id=msg_id)
                if restart is None and i == COUNT // 3:
                    restart = asyncio.create_task(_kill_and_restart(nats_server))
            if restart is not None:
                await restart
            try:
                await publisher.flush(timeout_s=10)
            except TemporaryPublishError as failed:
                to_send = list(failed.msg_ids)
                await _wait_ready(bus)
                continue
            break
        else:
            pytest.fail("publishing did not recover within 5 attempts")
    finally:
        if restart is not None and not restart.done():
            await restart
        await publisher.close()

    info = await bus.js.stream_info(name)
    assert info.state.messages == COUNT
    assert info.state.last_seq == COUNT  # no duplicate was ever stored


async def test_publisher_retries_through_a_server_kill_and_stores_each_once(
    bus: Bus,
    nats_server: NatsServer,
    unique: Callable[[str], str],
) -> None:
    """With retries on (the default), a kill mid-publish needs nothing from the caller.

    Messages whose ack died with the server are sent again with the same msg id after the
    reconnect; those the server had stored are dropped by the duplicate window.
    """
    name = unique("PUBRETRY")
    subject = name.lower()
    await provision(
        bus, streams=[StreamSpec(name=name, subjects=(f"{subject}.>",), storage="file")]
    )
    publisher = Publisher(bus, ack_timeout_s=1.0, max_in_flight=256)
    restart: asyncio.Task[None] | None = None
    try:
        for i in range(COUNT):
            msg_id = f"tick-{i}"
            await publisher.publish(f"{subject}.x", msg_id.encode(), msg_id=msg_id)
            if restart is None and i == COUNT // 3:
                restart = asyncio.create_task(_kill_and_restart(nats_server))
        assert restart is not None
        await restart
        await publisher.flush(timeout_s=60)  # raises if any message was given up
    finally:
        if restart is not None and not restart.done():
            await restart
        await publisher.close()

    info = await bus.js.stream_info(name)
    assert info.state.messages == COUNT
    assert info.state.last_seq == COUNT  # no duplicate was ever stored


async def _wait_ready(bus: Bus) -> None:
    async with asyncio.timeout(20):
        while True:
            if await bus.ready() is True:
                return
            await asyncio.sleep(0.05)
