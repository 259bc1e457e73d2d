"""Publisher: dedup by Nats-Msg-Id, pipelined throughput, failures never silent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import msgspec
import pytest
from prometheus_client import CollectorRegistry

from ssmd.bus import (
    Bus,
    EncodingPublisher,
    NotFoundError,
    PermanentPublishError,
    PublishAck,
    Publisher,
    PublishError,
    StreamSpec,
    TemporaryPublishError,
    provision,
    publish_one,
)
from ssmd.core.errors import PermanentError, TemporaryError, TimeoutExpiredError

pytestmark = pytest.mark.integration


async def _stream(bus: Bus, unique: Callable[[str], str]) -> tuple[str, str]:
    name = unique("PUB")
    subject = name.lower()
    await provision(bus, streams=[StreamSpec(name=name, subjects=(f"{subject}.>",))])
    return name, subject


async def test_same_msg_id_twice_is_stored_once_and_second_ack_is_duplicate(
    bus: Bus, unique: Callable[[str], str], registry: CollectorRegistry
) -> None:
    stream, subject = await _stream(bus, unique)
    acks: list[PublishAck] = []
    async with Publisher(bus, on_ack=acks.append, name="dedup") as publisher:
        await publisher.publish(f"{subject}.a", b"first", msg_id="order-1")
        await publisher.flush()
        await publisher.publish(f"{subject}.a", b"second", msg_id="order-1")

    info = await bus.js.stream_info(stream)
    assert info.state.messages == 1
    assert [(a.msg_id, a.seq, a.duplicate) for a in acks] == [
        ("order-1", 1, False),
        ("order-1", 1, True),
    ]
    assert registry.get_sample_value(
        "ssmd_bus_publish_duplicates_total", {"publisher": "dedup"}
    ) == pytest.approx(1)


async def test_pipelined_publish_of_20k_messages_is_all_acked_and_stored(
    bus: Bus, unique: Callable[[str], str], registry: CollectorRegistry
) -> None:
    stream, subject = await _stream(bus, unique)
    count = 20_000
    payload = b"x" * 200
    publisher = Publisher(bus, max_in_flight=1024, name="bulk")
    try:
        for i in range(count):
            await publisher.publish(f"{subject}.{i % 7}", payload, msg_id=f"bulk-{i}")
            assert publisher.in_flight <= 1024
        await publisher.flush(timeout_s=30)
    finally:
        await publisher.close()

    info = await bus.js.stream_info(stream)
    assert info.state.messages == count
    labels = {"publisher": "bulk"}
    assert registry.get_sample_value("ssmd_bus_published_total", labels) == count
    assert registry.get_sample_value("ssmd_bus_publish_acked_total", labels) == count
    assert registry.get_sample_value("ssmd_bus_publish_in_flight", labels) == 0
    assert registry.get_sample_value("ssmd_bus_publish_ack_latency_seconds_count", labels) == count


async def test_publish_to_subject_without_stream_fails_permanently_on_flush(
    bus: Bus, unique: Callable[[str], str]
) -> None:
    subject = unique("nostream").lower()
    async with Publisher(bus, name="lost") as publisher:
        await publisher.publish(f"{subject}.a", b"x", msg_id="a")
        await publisher.publish(f"{subject}.b", b"x", msg_id="b")
        with pytest.raises(PermanentPublishError) as caught:
            await publisher.flush()
    assert isinstance(caught.value, PermanentError)
    assert sorted(caught.value.msg_ids) == ["a", "b"]
    assert all(isinstance(f.error, NotFoundError) for f in caught.value.failures)


async def test_unacknowledged_publish_fails_as_temporary_after_ack_timeout(
    bus: Bus, unique: Callable[[str], str], registry: CollectorRegistry
) -> None:
    # A plain subscriber (not a stream) takes the message and never answers: no ack.
    subject = unique("silent").lower()
    received = asyncio.Event()

    async def swallow(_: object) -> None:
        received.set()

    sub = await bus.nc.subscribe(subject, cb=swallow)
    try:
        async with Publisher(bus, ack_timeout_s=0.3, name="silent", retry_s=0) as publisher:
            await publisher.publish(subject, b"x", msg_id="never-acked")
            await asyncio.sleep(1.0)  # the sweeper fails it; flush() only reports
            with pytest.raises(TemporaryPublishError) as caught:
                await publisher.flush()
    finally:
        await sub.unsubscribe()
    assert received.is_set()
    assert isinstance(caught.value, TemporaryError)
    assert caught.value.msg_ids == ("never-acked",)
    assert isinstance(caught.value.failures[0].error, TimeoutExpiredError)
    assert registry.get_sample_value(
        "ssmd_bus_publish_failed_total", {"publisher": "silent", "kind": "temporary"}
    ) == pytest.approx(1)


async def test_flush_after_failures_were_raised_starts_clean(
    bus: Bus, unique: Callable[[str], str]
) -> None:
    _, subject = await _stream(bus, unique)
    async with Publisher(bus) as publisher:
        await publisher.publish("nowhere.at.all", b"x", msg_id="lost")
        with pytest.raises(PublishError):
            await publisher.flush()
        await publisher.publish(f"{subject}.ok", b"x", msg_id="kept")
        await publisher.flush()


async def test_rejected_publish_is_raised_from_publish_as_permanent(bus: Bus) -> None:
    async with Publisher(bus) as publisher:
        with pytest.raises(PermanentError):
            await publisher.publish("bad subject", b"x", msg_id="x")


class _Tick(msgspec.Struct):
    market: str
    price: str


async def test_encoding_publisher_stores_encoded_objects(
    bus: Bus, unique: Callable[[str], str]
) -> None:
    stream, subject = await _stream(bus, unique)
    async with Publisher(bus) as publisher:
        ticks = EncodingPublisher[_Tick](publisher, msgspec.json.encode)
        await ticks.publish(f"{subject}.t", _Tick("kalshi:X", "0.42"), msg_id="t1")
        await ticks.flush()
    stored = await bus.js.get_msg(stream, 1)
    assert msgspec.json.decode(stored.data or b"", type=_Tick) == _Tick("kalshi:X", "0.42")


async def test_publish_one_waits_for_the_ack_and_reports_missing_stream(
    bus: Bus, unique: Callable[[str], str]
) -> None:
    stream, subject = await _stream(bus, unique)
    ack = await publish_one(bus, f"{subject}.one", b"x", msg_id="one")
    assert (ack.stream, ack.seq, ack.duplicate) == (stream, 1, False)
    with pytest.raises(NotFoundError):
        await publish_one(bus, "no.stream.here", b"x", msg_id="two")
