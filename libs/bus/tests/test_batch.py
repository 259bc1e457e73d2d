"""BatchConsumer: batches by size and age, ack after the batch, rejects, retries, stop, bounds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

import pytest
from prometheus_client import CollectorRegistry

from ssmd.bus import (
    DLQ_REASON,
    DLQ_SEQ,
    BatchConsumer,
    Bus,
    ConsumerSpec,
    Message,
    Publisher,
    Rejected,
    StreamSpec,
    provision,
)
from ssmd.core.errors import BadInputError, TemporaryError
from ssmd.core.retry import Backoff

pytestmark = pytest.mark.integration

FAST_RETRY = Backoff(initial_s=0.01, max_s=0.05)


async def _eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 15.0) -> None:
    async with asyncio.timeout(timeout_s):
        while True:  # polling server state, which has no event to wait on
            if await check():
                return
            await asyncio.sleep(0.05)


@asynccontextmanager
async def running(consumer: BatchConsumer) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(consumer.run(), name="test-batch-consumer")
    try:
        yield task
    finally:
        consumer.stop()
        await asyncio.wait_for(task, timeout=15)


async def _setup(
    bus: Bus, unique: Callable[[str], str], *, max_ack_pending: int = 10_000
) -> tuple[ConsumerSpec, str, str]:
    name = unique("BATCH")
    subject = name.lower()
    dlq = f"dlq.test.{subject}"
    await provision(
        bus,
        streams=[
            StreamSpec(name=name, subjects=(f"{subject}.>",)),
            StreamSpec(name=f"{name}_DLQ", subjects=(dlq,)),
        ],
    )
    spec = ConsumerSpec(
        stream=name,
        durable="batcher",
        ack_wait_s=30,
        max_deliver=-1,
        max_ack_pending=max_ack_pending,
    )
    await provision(bus, consumers=[spec])  # before the test polls its state
    return spec, subject, dlq


async def _publish(bus: Bus, subject: str, count: int) -> None:
    async with Publisher(bus) as publisher:
        for i in range(count):
            await publisher.publish(f"{subject}.x", b"m-%d" % i, msg_id=f"m-{i}")


async def _ack_state(bus: Bus, spec: ConsumerSpec) -> tuple[int, int]:
    info = await bus.js.consumer_info(spec.stream, spec.durable)
    return info.num_pending or 0, info.num_ack_pending or 0


async def _drained(bus: Bus, spec: ConsumerSpec) -> bool:
    return await _ack_state(bus, spec) == (0, 0)


async def test_messages_arrive_in_batches_of_at_most_max_batch_and_are_all_acked(
    bus: Bus, unique: Callable[[str], str], registry: CollectorRegistry
) -> None:
    spec, subject, dlq = await _setup(bus, unique)
    await _publish(bus, subject, 2_500)
    sizes: list[int] = []
    seqs: list[int] = []
    unacked_during: list[int] = []

    async def handler(messages: Sequence[Message]) -> list[Rejected]:
        sizes.append(len(messages))
        seqs.extend(m.stream_seq for m in messages)
        unacked_during.append((await _ack_state(bus, spec))[1])
        return []

    consumer = BatchConsumer(
        bus, spec, handler, dead_letter_subject=dlq, max_batch=1_000, max_wait_s=0.5
    )
    async with running(consumer):
        await _eventually(lambda: _drained(bus, spec))

    assert sorted(seqs) == list(range(1, 2_501))
    assert max(sizes) == 1_000
    assert all(size <= 1_000 for size in sizes)
    # Nothing of a batch is acked while its handler runs.
    assert all(unacked >= size for unacked, size in zip(unacked_during, sizes, strict=True))
    labels = {"stream": spec.stream, "consumer": "batcher"}
    assert registry.get_sample_value("ssmd_bus_consumer_acked_total", labels) == 2_500
    assert registry.get_sample_value("ssmd_bus_consumer_handler_seconds_count", labels) == len(
        sizes
    )


async def test_a_partial_batch_is_handed_over_after_max_wait(
    bus: Bus, unique: Callable[[str], str]
) -> None:
    spec, subject, dlq = await _setup(bus, unique)
    await _publish(bus, subject, 7)
    batches: list[list[int]] = []
    got = asyncio.Event()

    async def handler(messages: Sequence[Message]) -> list[Rejected]:
        batches.append([m.stream_seq for m in messages])
        got.set()
        return []

    consumer = BatchConsumer(
        bus, spec, handler, dead_letter_subject=dlq, max_batch=1_000, max_wait_s=0.3
    )
    async with running(consumer):
        await asyncio.wait_for(got.wait(), timeout=10)
        await _eventually(lambda: _drained(bus, spec))
    assert batches == [[1, 2, 3, 4, 5, 6, 7]]


async def test_rejected_messages_are_dead_lettered_with_reason_and_the_rest_acked(
    bus: Bus, unique: Callable[[str], str], registry: CollectorRegistry
) -> None:
    spec, subject, dlq = await _setup(bus, unique)
    await _publish(bus, subject, 10)

    async def handler(messages: Sequence[Message]) -> list[Rejected]:
        return [
            Rejected(m, BadInputError(f"bad payload {m.data.decode()}"))
            for m in messages
            if m.stream_seq in (3, 8)
        ]

    consumer = BatchConsumer(
        bus, spec, handler, dead_letter_subject=dlq, max_batch=100, max_wait_s=0.2
    )
    async with running(consumer):
        await _eventually(lambda: _drained(bus, spec))
        await _eventually(lambda: _dlq_count(bus, spec, 2))

    info = await bus.js.stream_info(f"{spec.stream}_DLQ")
    letters = [
        await bus.js.get_msg(f"{spec.stream}_DLQ", seq)
        for seq in range(info.state.first_seq, info.state.last_seq + 1)
    ]
    assert [(m.data, (m.headers or {})[DLQ_SEQ]) for m in letters] == [
        (b"m-2", "3"),
        (b"m-7", "8"),
    ]
    assert (letters[0].headers or {})[DLQ_REASON] == "BadInputError: bad payload m-2"
    labels = {"stream": spec.stream, "consumer": "batcher"}
    assert registry.get_sample_value("ssmd_bus_consumer_dead_lettered_total", labels) == 2
    assert registry.get_sample_value("ssmd_bus_consumer_acked_total", labels) == 8


async def _dlq_count(bus: Bus, spec: ConsumerSpec, count: int) -> bool:
    info = await bus.js.stream_info(f"{spec.stream}_DLQ")
    return bool(info.state.messages >= count)


async def test_a_failed_batch_is_naked_whole_and_redelivered(
    bus: Bus, unique: Callable[[str], str]
) -> None:
    spec, subject, dlq = await _setup(bus, unique)
    await _publish(bus, subject, 20)
    attempts: list[tuple[int, list[int]]] = []

    async def handler(messages: Sequence[Message]) -> list[Rejected]:
        attempts.append((len(attempts), [m.num_delivered for m in messages]))
        if len(attempts) == 1:
            raise TemporaryError("disk busy")
        return []

    consumer = BatchConsumer(
        bus,
        spec,
        handler,
        dead_letter_subject=dlq,
        max_batch=20,
        max_wait_s=0.2,
        nak_backoff=FAST_RETRY,
    )
    async with running(consumer):
        await _eventually(lambda: _drained(bus, spec))
    assert attempts[0] == (0, [1] * 20)
    redelivered = [n for _, deliveries in attempts[1:] for n in deliveries]
    assert sorted(redelivered) == [2] * 20
    assert (await bus.js.stream_info(f"{spec.stream}_DLQ")).state.messages == 0


async def test_stop_hands_buffered_messages_to_the_handler_and_acks_them(
    bus: Bus, unique: Callable[[str], str]
) -> None:
    spec, subject, dlq = await _setup(bus, unique)
    await _publish(bus, subject, 50)
    handled: list[int] = []

    async def handler(messages: Sequence[Message]) -> list[Rejected]:
        handled.extend(m.stream_seq for m in messages)
        return []

    # A batch would wait 20 s; stopping must not wait for it.
    consumer = BatchConsumer(
        bus, spec, handler, dead_letter_subject=dlq, max_batch=1_000, max_wait_s=20
    )
    async with running(consumer):

        async def all_buffered() -> bool:
            return consumer.buffered == 50

        await _eventually(all_buffered)
        assert handled == []
        assert consumer.oldest_buffered_age_s() >= 0
    assert sorted(handled) == list(range(1, 51))
    await _eventually(lambda: _drained(bus, spec))


async def test_a_backlog_never_holds_more_than_max_buffered(
    bus: Bus, unique: Callable[[str], str]
) -> None:
    spec, subject, dlq = await _setup(bus, unique, max_ack_pending=300)
    await _publish(bus, subject, 3_000)
    seen = 0

    async def handler(messages: Sequence[Message]) -> list[Rejected]:
        nonlocal seen
        seen += len(messages)
        await asyncio.sleep(0.01)  # a slow writer: the backlog piles up in JetStream
        return []

    consumer = BatchConsumer(
        bus,
        spec,
        handler,
        dead_letter_subject=dlq,
        max_batch=100,
        max_wait_s=0.2,
        max_buffered=300,
        fetch_batch=64,
    )
    async with running(consumer):
        await _eventually(lambda: _drained(bus, spec), timeout_s=60)
    assert seen == 3_000
    assert 100 <= consumer.buffered_high_water <= 300


async def test_settings_that_would_redeliver_or_never_fill_a_batch_are_refused(
    bus: Bus, unique: Callable[[str], str]
) -> None:
    spec, _, dlq = await _setup(bus, unique)

    async def handler(messages: Sequence[Message]) -> list[Rejected]:
        return []

    with pytest.raises(ValueError, match="ack_wait_s"):
        BatchConsumer(bus, spec, handler, dead_letter_subject=dlq, max_batch=10, max_wait_s=30)
    with pytest.raises(ValueError, match="max_buffered"):
        BatchConsumer(
            bus, spec, handler, dead_letter_subject=dlq, max_batch=10, max_wait_s=1, max_buffered=5
        )
