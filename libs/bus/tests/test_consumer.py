"""DurableConsumer: ack after the handler, retries, dead letters, graceful stop, tracing."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from ssmd.bus import (
    DLQ_CONSUMER,
    DLQ_DELIVERIES,
    DLQ_MSG_ID,
    DLQ_REASON,
    DLQ_SEQ,
    DLQ_STREAM,
    DLQ_SUBJECT,
    Bus,
    ConsumerSpec,
    DurableConsumer,
    Message,
    Publisher,
    StreamSpec,
    provision,
)
from ssmd.core.errors import PermanentError, TemporaryError
from ssmd.core.retry import Backoff

pytestmark = pytest.mark.integration

FAST_RETRY = Backoff(initial_s=0.01, max_s=0.05)


async def _eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while True:  # polling server state, which has no event to wait on
            if await check():
                return
            await asyncio.sleep(0.05)


@asynccontextmanager
async def running(consumer: DurableConsumer) -> AsyncIterator[asyncio.Task[None]]:
    """Run `consumer` in a task owned by the test; stop it and await it on the way out."""
    task = asyncio.create_task(consumer.run(), name="test-consumer")
    try:
        yield task
    finally:
        consumer.stop()
        await asyncio.wait_for(task, timeout=10)


async def _setup(
    bus: Bus, unique: Callable[[str], str], *, max_deliver: int = 3
) -> tuple[ConsumerSpec, str, str]:
    """A stream, its DLQ stream and a consumer spec; returns (spec, subject, dlq subject)."""
    name = unique("WORK")
    subject = name.lower()
    dlq = f"dlq.test.{subject}"
    await provision(
        bus,
        streams=[
            StreamSpec(name=name, subjects=(f"{subject}.>",)),
            StreamSpec(name=f"{name}_DLQ", subjects=(dlq,)),
        ],
    )
    spec = ConsumerSpec(stream=name, durable="worker", ack_wait_s=5, max_deliver=max_deliver)
    return spec, subject, dlq


async def _publish(bus: Bus, subject: str, count: int, prefix: str = "m") -> list[str]:
    ids = [f"{prefix}-{i}" for i in range(count)]
    async with Publisher(bus) as publisher:
        for i, msg_id in enumerate(ids):
            await publisher.publish(
                f"{subject}.{i % 3}",
                msg_id.encode(),
                msg_id=msg_id,
                headers={"X-Origin": "test"},
            )
    return ids


async def _ack_state(bus: Bus, spec: ConsumerSpec) -> tuple[int, int]:
    info = await bus.js.consumer_info(spec.stream, spec.durable)
    return info.num_pending or 0, info.num_ack_pending or 0


async def test_every_message_is_handled_then_acked(
    bus: Bus, unique: Callable[[str], str], registry: CollectorRegistry
) -> None:
    spec, subject, dlq = await _setup(bus, unique)
    ids = await _publish(bus, subject, 2_000)
    seen: list[Message] = []
    done = asyncio.Event()

    async def handler(message: Message) -> None:
        seen.append(message)
        if len(seen) == len(ids):
            done.set()

    consumer = DurableConsumer(
        bus, spec, handler, dead_letter_subject=dlq, batch_size=100, concurrency=4
    )
    async with running(consumer):
        await asyncio.wait_for(done.wait(), timeout=30)
        await _eventually(lambda: _is(_ack_state(bus, spec), (0, 0)))

    assert sorted(m.msg_id or "" for m in seen) == sorted(ids)
    first = next(m for m in seen if m.msg_id == "m-0")
    assert first.data == b"m-0"
    assert first.headers["X-Origin"] == "test"
    assert (first.stream, first.consumer, first.num_delivered) == (spec.stream, "worker", 1)
    assert first.stream_seq == 1
    assert first.timestamp_ns > 0
    labels = {"stream": spec.stream, "consumer": "worker"}
    assert registry.get_sample_value("ssmd_bus_consumer_acked_total", labels) == len(ids)
    assert registry.get_sample_value("ssmd_bus_consumer_handler_seconds_count", labels) == len(ids)


async def _is(pending: Awaitable[tuple[int, int]], expected: tuple[int, int]) -> bool:
    return await pending == expected


async def _dead_letters(bus: Bus, spec: ConsumerSpec) -> list[tuple[bytes, dict[str, str]]]:
    stream = f"{spec.stream}_DLQ"
    info = await bus.js.stream_info(stream)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        raw = await bus.js.get_msg(stream, seq)
        out.append((raw.data or b"", dict(raw.headers or {})))
    return out


async def test_retryable_failure_is_retried_then_dead_lettered_after_max_deliver(
    bus: Bus, unique: Callable[[str], str], registry: CollectorRegistry
) -> None:
    spec, subject, dlq = await _setup(bus, unique, max_deliver=3)
    await _publish(bus, subject, 1, prefix="poison")
    deliveries: list[int] = []

    async def handler(message: Message) -> None:
        deliveries.append(message.num_delivered)
        raise TemporaryError("venue said 503")

    consumer = DurableConsumer(bus, spec, handler, dead_letter_subject=dlq, nak_backoff=FAST_RETRY)
    async with running(consumer):
        await _eventually(lambda: _has_dead_letters(bus, spec, 1))
        await _eventually(lambda: _is(_ack_state(bus, spec), (0, 0)))

    assert deliveries == [1, 2, 3]
    [(data, headers)] = await _dead_letters(bus, spec)
    assert data == b"poison-0"
    assert headers[DLQ_REASON] == "TemporaryError: venue said 503"
    assert headers[DLQ_STREAM] == spec.stream
    assert headers[DLQ_SUBJECT] == f"{subject}.0"
    assert headers[DLQ_SEQ] == "1"
    assert headers[DLQ_DELIVERIES] == "3"
    assert headers[DLQ_CONSUMER] == "worker"
    assert headers[DLQ_MSG_ID] == "poison-0"
    assert headers["X-Origin"] == "test"  # the original headers travel along
    labels = {"stream": spec.stream, "consumer": "worker"}
    assert registry.get_sample_value("ssmd_bus_consumer_naked_total", labels) == 2
    assert registry.get_sample_value("ssmd_bus_consumer_dead_lettered_total", labels) == 1


async def _has_dead_letters(bus: Bus, spec: ConsumerSpec, count: int) -> bool:
    info = await bus.js.stream_info(f"{spec.stream}_DLQ")
    return bool(info.state.messages >= count)


async def test_permanent_error_is_dead_lettered_on_first_delivery(
    bus: Bus, unique: Callable[[str], str]
) -> None:
    spec, subject, dlq = await _setup(bus, unique, max_deliver=5)
    await _publish(bus, subject, 3, prefix="bad")
    deliveries: list[tuple[str | None, int]] = []

    async def handler(message: Message) -> None:
        deliveries.append((message.msg_id, message.num_delivered))
        if message.msg_id == "bad-1":
            raise PermanentError("price outside [0, 1]")

    consumer = DurableConsumer(bus, spec, handler, dead_letter_subject=dlq, nak_backoff=FAST_RETRY)
    async with running(consumer):
        await _eventually(lambda: _has_dead_letters(bus, spec, 1))
        await _eventually(lambda: _is(_ack_state(bus, spec), (0, 0)))

    assert sorted(deliveries) == [("bad-0", 1), ("bad-1", 1), ("bad-2", 1)]
    [(data, headers)] = await _dead_letters(bus, spec)
    assert data == b"bad-1"
    assert headers[DLQ_REASON] == "PermanentError: price outside [0, 1]"
    assert headers[DLQ_DELIVERIES] == "1"


async def test_stop_lets_the_running_handler_finish_and_ack(
    bus: Bus, unique: Callable[[str], str]
) -> None:
    spec, subject, dlq = await _setup(bus, unique)
    spec = dataclasses.replace(spec, ack_wait_s=60)  # only a nak brings a message back soon
    ids = await _publish(bus, subject, 50)
    started = asyncio.Event()
    release = asyncio.Event()
    finished: list[str] = []

    async def blocking(message: Message) -> None:
        started.set()
        await release.wait()
        finished.append(message.msg_id or "")

    consumer = DurableConsumer(bus, spec, blocking, dead_letter_subject=dlq, batch_size=10)
    task = asyncio.create_task(consumer.run())
    await asyncio.wait_for(started.wait(), timeout=10)
    consumer.stop()
    await asyncio.sleep(0.1)
    assert not task.done()  # it waits for the handler that is running
    release.set()
    await asyncio.wait_for(task, timeout=10)
    assert finished == ["m-0"]

    # m-0 was acked; what was received but never started was naked, so a new consumer
    # gets all the rest at once instead of after the 60 s ack wait.
    rest: list[str] = []
    done = asyncio.Event()

    async def collect(message: Message) -> None:
        rest.append(message.msg_id or "")
        if len(rest) == len(ids) - 1:
            done.set()

    successor = DurableConsumer(bus, spec, collect, dead_letter_subject=dlq, batch_size=10)
    async with running(successor):
        await asyncio.wait_for(done.wait(), timeout=10)
    assert sorted(rest) == sorted(ids[1:])


async def test_cancelling_run_also_finishes_in_flight_work(
    bus: Bus, unique: Callable[[str], str]
) -> None:
    spec, subject, dlq = await _setup(bus, unique)
    await _publish(bus, subject, 5)
    started = asyncio.Event()
    finished: list[str] = []

    async def handler(message: Message) -> None:
        started.set()
        await asyncio.sleep(0.2)
        finished.append(message.msg_id or "")

    consumer = DurableConsumer(bus, spec, handler, dead_letter_subject=dlq, batch_size=1)
    task = asyncio.create_task(consumer.run())
    await asyncio.wait_for(started.wait(), timeout=10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert finished == ["m-0"]
    await _eventually(lambda: _acked_up_to(bus, spec, 1))


async def _acked_up_to(bus: Bus, spec: ConsumerSpec, seq: int) -> bool:
    info = await bus.js.consumer_info(spec.stream, spec.durable)
    return info.ack_floor is not None and info.ack_floor.stream_seq == seq


async def test_span_active_at_publish_is_the_parent_seen_by_the_handler(
    bus: Bus, unique: Callable[[str], str]
) -> None:
    spec, subject, dlq = await _setup(bus, unique)
    tracer = TracerProvider().get_tracer(__name__)
    with tracer.start_as_current_span("connector.publish") as span:
        async with Publisher(bus) as publisher:
            await publisher.publish(f"{subject}.x", b"traced", msg_id="traced-1")
    sent = span.get_span_context()
    seen: dict[str, object] = {}
    done = asyncio.Event()

    async def handler(message: Message) -> None:
        seen["carried"] = trace.get_current_span(message.trace_context).get_span_context()
        seen["current"] = trace.get_current_span().get_span_context()
        done.set()

    consumer = DurableConsumer(bus, spec, handler, dead_letter_subject=dlq)
    async with running(consumer):
        await asyncio.wait_for(done.wait(), timeout=10)

    for key in ("carried", "current"):
        ctx = seen[key]
        assert isinstance(ctx, trace.SpanContext)
        assert (ctx.trace_id, ctx.span_id) == (sent.trace_id, sent.span_id)
        assert ctx.is_remote


async def test_consumer_on_missing_stream_fails_with_not_found(
    bus: Bus, unique: Callable[[str], str]
) -> None:
    from ssmd.bus import NotFoundError

    async def handler(message: Message) -> None:
        raise AssertionError("no message expected")

    spec = ConsumerSpec(stream=unique("MISSING"), durable="worker")
    consumer = DurableConsumer(bus, spec, handler, dead_letter_subject="dlq.none")
    with pytest.raises(NotFoundError):
        await consumer.run()
