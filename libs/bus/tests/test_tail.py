"""OrderedTail: ordered, exactly-once delivery from a start point, across broken consumers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from ssmd.bus import Bus, Message, OrderedTail, Publisher, StreamSpec, TailStart, provision
from ssmd.testing.servers import NatsServer

pytestmark = pytest.mark.integration


class Collected:
    """What a tail's handler saw, with a way to wait for a count."""

    def __init__(self, *, fail_on: str | None = None) -> None:
        self.messages: list[Message] = []
        self.fail_on = fail_on
        self._changed = asyncio.Event()

    async def handle(self, message: Message) -> None:
        self.messages.append(message)
        self._changed.set()
        if self.fail_on is not None and message.msg_id == self.fail_on:
            raise RuntimeError("handler bug")

    @property
    def ids(self) -> list[str | None]:
        return [m.msg_id for m in self.messages]

    async def wait_for(self, count: int, timeout_s: float = 15.0) -> None:
        async with asyncio.timeout(timeout_s):
            while len(self.messages) < count:
                self._changed.clear()
                await self._changed.wait()


async def _until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.02)


@asynccontextmanager
async def running(tail: OrderedTail) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(tail.run(), name="test-tail")
    try:
        yield task
    finally:
        tail.stop()
        await asyncio.wait_for(task, timeout=10)


async def _stream(bus: Bus, unique: Callable[[str], str], storage: str = "memory") -> str:
    name = unique("TAIL")
    await provision(
        bus,
        streams=[StreamSpec(name=name, subjects=(f"{name.lower()}.>",), storage=storage)],  # type: ignore[arg-type]
    )
    return name


async def _publish(bus: Bus, subject_of: Callable[[int], str], ids: range, prefix: str) -> None:
    async with Publisher(bus) as publisher:
        for i in ids:
            await publisher.publish(subject_of(i), str(i).encode(), msg_id=f"{prefix}-{i}")


async def test_tail_from_a_time_delivers_only_later_messages_in_order(
    bus: Bus, unique: Callable[[str], str]
) -> None:
    stream = await _stream(bus, unique)
    subject = stream.lower()
    await _publish(bus, lambda i: f"{subject}.{i % 3}", range(50), "old")
    await asyncio.sleep(0.05)
    start_ns = time.time_ns()
    await asyncio.sleep(0.05)
    await _publish(bus, lambda i: f"{subject}.{i % 3}", range(100), "new")
    seen = Collected()
    tail = OrderedTail(
        bus, stream, f"{subject}.>", seen.handle, start=TailStart.at_time(start_ns), batch_size=16
    )
    async with running(tail):
        await seen.wait_for(100)
        await _publish(bus, lambda i: f"{subject}.{i % 3}", range(100, 120), "new")
        await seen.wait_for(120)
    assert seen.ids == [f"new-{i}" for i in range(120)]
    seqs = [m.stream_seq for m in seen.messages]
    assert seqs == sorted(seqs)
    assert tail.stats.delivered == 120
    assert tail.stats.caught_up
    assert tail.stats.pending == 0
    assert tail.stats.state == "stopped"


async def test_tail_last_per_subject_starts_with_the_newest_of_each_subject(
    bus: Bus, unique: Callable[[str], str]
) -> None:
    stream = await _stream(bus, unique)
    subject = stream.lower()
    await _publish(bus, lambda i: f"{subject}.m{i % 4}", range(40), "x")
    seen = Collected()
    tail = OrderedTail(bus, stream, f"{subject}.>", seen.handle, start=TailStart.last_per_subject())
    async with running(tail):
        await seen.wait_for(4)
        await _publish(bus, lambda i: f"{subject}.m0", range(40, 42), "x")
        await seen.wait_for(6)
    assert seen.ids == ["x-36", "x-37", "x-38", "x-39", "x-40", "x-41"]


async def test_tail_filter_selects_subjects(bus: Bus, unique: Callable[[str], str]) -> None:
    stream = await _stream(bus, unique)
    subject = stream.lower()
    await _publish(bus, lambda i: f"{subject}.{'a' if i % 2 else 'b'}.x", range(20), "f")
    seen = Collected()
    tail = OrderedTail(bus, stream, [f"{subject}.a.>"], seen.handle, start=TailStart.everything())
    async with running(tail):
        await seen.wait_for(10)
        await asyncio.sleep(0.2)
    assert seen.ids == [f"f-{i}" for i in range(1, 20, 2)]


async def test_deleted_consumer_is_recreated_after_the_last_message_without_loss(
    bus: Bus, unique: Callable[[str], str]
) -> None:
    stream = await _stream(bus, unique)
    subject = stream.lower()
    await _publish(bus, lambda i: f"{subject}.k", range(30), "d")
    seen = Collected()
    tail = OrderedTail(
        bus, stream, f"{subject}.>", seen.handle, start=TailStart.everything(), batch_size=8
    )
    async with running(tail):
        await seen.wait_for(30)
        names = [name async for name in _consumer_names(bus, stream)]
        assert len(names) == 1
        await bus.js.delete_consumer(stream, names[0])
        await _publish(bus, lambda i: f"{subject}.k", range(30, 60), "d")
        await seen.wait_for(60)
        await asyncio.sleep(0.2)
    assert seen.ids == [f"d-{i}" for i in range(60)]
    assert tail.stats.resets >= 1


async def _consumer_names(bus: Bus, stream: str) -> AsyncIterator[str]:
    for info in await bus.js.consumers_info(stream):
        assert info.name is not None
        yield info.name


async def test_tail_waits_for_a_missing_stream_then_reads_it(
    bus: Bus, unique: Callable[[str], str]
) -> None:
    name = unique("LATE")
    seen = Collected()
    tail = OrderedTail(bus, name, f"{name.lower()}.>", seen.handle, start=TailStart.everything())
    async with running(tail):
        await _until(lambda: tail.stats.state == "waiting")
        assert "not found" in tail.stats.last_error.lower()
        await provision(
            bus, streams=[StreamSpec(name=name, subjects=(f"{name.lower()}.>",), storage="memory")]
        )
        await _publish(bus, lambda i: f"{name.lower()}.s", range(5), "late")
        await seen.wait_for(5)
    assert seen.ids == [f"late-{i}" for i in range(5)]


async def test_a_handler_error_is_counted_and_the_tail_goes_on(
    bus: Bus, unique: Callable[[str], str]
) -> None:
    stream = await _stream(bus, unique)
    subject = stream.lower()
    await _publish(bus, lambda i: f"{subject}.e", range(5), "e")
    seen = Collected(fail_on="e-2")
    tail = OrderedTail(bus, stream, f"{subject}.>", seen.handle, start=TailStart.everything())
    async with running(tail):
        await seen.wait_for(5)
    assert seen.ids == [f"e-{i}" for i in range(5)]
    assert tail.stats.handler_errors == 1
    assert tail.stats.delivered == 5


def test_start_points_are_validated() -> None:
    with pytest.raises(ValueError, match="time_ns"):
        TailStart.at_time(-1)
    with pytest.raises(ValueError, match="sequence"):
        TailStart.at_sequence(0)


async def test_tail_survives_a_server_restart_in_order_without_duplicates(
    bus: Bus, nats_server: NatsServer, unique: Callable[[str], str]
) -> None:
    """The memory consumer dies with the server; a new one resumes after the last seen."""
    stream = await _stream(bus, unique, storage="file")
    subject = stream.lower()
    await _publish(bus, lambda i: f"{subject}.{i % 2}", range(200), "r")
    seen = Collected()
    tail = OrderedTail(
        bus, stream, f"{subject}.>", seen.handle, start=TailStart.everything(), batch_size=20
    )
    async with running(tail):
        await seen.wait_for(200)
        nats_server.kill()
        await asyncio.sleep(0.3)
        await asyncio.to_thread(nats_server.restart)
        await _until(lambda: bus.is_connected, timeout_s=20)
        # The server may need a moment before JetStream answers again.
        async with asyncio.timeout(20):
            while True:
                try:
                    await _publish(bus, lambda i: f"{subject}.{i % 2}", range(200, 260), "r")
                    break
                except Exception:  # noqa: BLE001 - retried until JetStream is back
                    await asyncio.sleep(0.2)
        await seen.wait_for(260, timeout_s=30)
        await asyncio.sleep(0.3)
    assert seen.ids == [f"r-{i}" for i in range(260)]
    assert tail.stats.resets >= 1
