"""provision(): create what is missing, update what differs, leave equal things alone."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from ssmd.bus import Bus, Change, ConsumerSpec, KvSpec, StreamSpec, provision
from ssmd.core.errors import PermanentError

pytestmark = pytest.mark.integration


def _specs(unique: Callable[[str], str]) -> tuple[StreamSpec, ConsumerSpec, KvSpec]:
    name = unique("PROV")
    stream = StreamSpec(
        name=name,
        subjects=(f"{name.lower()}.>",),
        storage="file",
        max_age_s=3600,
        max_bytes=64 * 1024 * 1024,
        duplicate_window_s=60,
        discard="old",
        description="provisioning test",
    )
    consumer = ConsumerSpec(
        stream=name,
        durable="reader",
        filter_subjects=(f"{name.lower()}.a",),
        ack_wait_s=30,
        max_deliver=5,
        max_ack_pending=1000,
    )
    kv = KvSpec(bucket=unique("limits"), history=3, ttl_s=600)
    return stream, consumer, kv


async def test_provisioning_creates_then_is_a_no_op_when_nothing_changed(
    bus: Bus, unique: Callable[[str], str]
) -> None:
    stream, consumer, kv = _specs(unique)

    first = await provision(bus, streams=[stream], consumers=[consumer], kvs=[kv])
    second = await provision(bus, streams=[stream], consumers=[consumer], kvs=[kv])

    assert [c.action for c in first.changes] == ["created", "created", "created"]
    assert first.changed
    assert [c.action for c in second.changes] == ["unchanged"] * 3
    assert not second.changed
    assert second.unchanged == (
        f"stream {stream.name}",
        f"consumer {stream.name}/reader",
        f"kv {kv.bucket}",
    )


async def test_provisioning_updates_changed_config_and_names_the_fields(
    bus: Bus, unique: Callable[[str], str]
) -> None:
    stream, consumer, kv = _specs(unique)
    await provision(bus, streams=[stream], consumers=[consumer], kvs=[kv])

    stream2 = dataclasses.replace(
        stream, max_age_s=7200, subjects=(*stream.subjects, f"{stream.name.lower()}_b.>")
    )
    consumer2 = dataclasses.replace(consumer, max_deliver=9, ack_wait_s=45)
    kv2 = dataclasses.replace(kv, history=5)
    report = await provision(bus, streams=[stream2], consumers=[consumer2], kvs=[kv2])

    assert report.changes == (
        Change("stream", stream.name, "updated", ("subjects", "max_age_s")),
        Change("consumer", f"{stream.name}/reader", "updated", ("ack_wait_s", "max_deliver")),
        Change("kv", kv.bucket, "updated", ("history",)),
    )
    info = await bus.js.stream_info(stream.name)
    assert info.config.max_age == 7200
    assert sorted(info.config.subjects or []) == sorted(stream2.subjects)
    cinfo = await bus.js.consumer_info(stream.name, "reader")
    assert (cinfo.config.max_deliver, cinfo.config.ack_wait) == (9, 45)
    kinfo = await bus.js.stream_info(kv.stream_name)
    assert kinfo.config.max_msgs_per_subject == 5

    again = await provision(bus, streams=[stream2], consumers=[consumer2], kvs=[kv2])
    assert not again.changed


async def test_provisioning_refuses_a_change_the_server_cannot_apply(
    bus: Bus, unique: Callable[[str], str]
) -> None:
    stream, _, _ = _specs(unique)
    await provision(bus, streams=[stream])

    with pytest.raises(PermanentError, match=stream.name):
        await provision(bus, streams=[dataclasses.replace(stream, storage="memory")])


async def test_consumer_for_a_missing_stream_is_a_permanent_error(
    bus: Bus, unique: Callable[[str], str]
) -> None:
    with pytest.raises(PermanentError):
        await provision(bus, consumers=[ConsumerSpec(stream=unique("NOPE"), durable="x")])
