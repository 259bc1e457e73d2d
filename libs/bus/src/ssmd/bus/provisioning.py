"""Declarative JetStream set-up: say which streams, consumers and KV buckets must exist.

`provision()` is idempotent: it creates what is missing, updates what differs from its
spec (naming the fields that differed), and leaves the rest alone, so every service (and
the operator) can run it at each start. Changes the server cannot apply in place (storage
type, retention of a stream; deliver policy of a consumer) fail with a `PermanentError`
naming the object: they need a migration, never a silent delete.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import nats.js.errors
from nats.js import api

from ssmd.bus.connection import Bus
from ssmd.bus.errors import nats_errors

log = logging.getLogger(__name__)

Storage = Literal["file", "memory"]
Retention = Literal["limits", "interest", "workqueue"]
Discard = Literal["old", "new"]
DeliverPolicy = Literal["all", "last", "new", "last_per_subject"]
Action = Literal["created", "updated", "unchanged"]

_DEFAULT_DUPLICATE_WINDOW_S = 120.0  # the server's own default, applied when 0 is sent
_KV_DUPLICATE_WINDOW_S = 120.0  # what nats-py gives a bucket (or its TTL, if shorter)


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """A stream as it must be. Times in seconds; 0 age and -1 sizes mean unlimited."""

    name: str
    subjects: tuple[str, ...]
    storage: Storage = "file"
    retention: Retention = "limits"
    max_age_s: float = 0.0
    max_bytes: int = -1
    max_msgs: int = -1
    max_msg_size: int = -1
    duplicate_window_s: float = _DEFAULT_DUPLICATE_WINDOW_S
    replicas: int = 1
    discard: Discard = "old"
    description: str = ""

    def config(self) -> api.StreamConfig:
        return api.StreamConfig(
            name=self.name,
            description=self.description or None,
            subjects=list(self.subjects),
            retention=api.RetentionPolicy(self.retention),
            storage=api.StorageType(self.storage),
            max_age=self.max_age_s,
            max_bytes=self.max_bytes,
            max_msgs=self.max_msgs,
            max_msg_size=self.max_msg_size,
            duplicate_window=self.duplicate_window_s,
            num_replicas=self.replicas,
            discard=api.DiscardPolicy(self.discard),
        )

    def differences(self, current: api.StreamConfig) -> tuple[str, ...]:
        """Names of the fields where the server's `current` config differs from this spec."""
        dup_s = self.duplicate_window_s or _DEFAULT_DUPLICATE_WINDOW_S
        if self.max_age_s:
            dup_s = min(dup_s, self.max_age_s)  # the server clamps the window to max_age
        wanted = {
            "subjects": tuple(sorted(self.subjects)),
            "storage": self.storage,
            "retention": self.retention,
            "max_age_s": _ns(self.max_age_s),
            "max_bytes": self.max_bytes,
            "max_msgs": self.max_msgs,
            "max_msg_size": self.max_msg_size,
            "duplicate_window_s": _ns(dup_s),
            "replicas": self.replicas,
            "discard": self.discard,
            "description": self.description,
        }
        actual = {
            "subjects": tuple(sorted(current.subjects or ())),
            "storage": _enum_value(current.storage),
            "retention": _enum_value(current.retention),
            "max_age_s": _ns(current.max_age or 0.0),
            "max_bytes": current.max_bytes,
            "max_msgs": current.max_msgs,
            "max_msg_size": current.max_msg_size,
            "duplicate_window_s": _ns(current.duplicate_window),
            "replicas": current.num_replicas,
            "discard": _enum_value(current.discard),
            "description": current.description or "",
        }
        return tuple(key for key, value in wanted.items() if actual[key] != value)


@dataclass(frozen=True, slots=True)
class ConsumerSpec:
    """A durable pull consumer with explicit acks. Times in seconds; -1 means unlimited.

    ``max_deliver`` counts deliveries, the first included: after that many a message that
    still fails goes to the dead-letter subject (see `DurableConsumer`).
    ``max_ack_pending`` must cover the consumer's buffer (2 x pull batch) to keep it busy.
    """

    stream: str
    durable: str
    filter_subjects: tuple[str, ...] = ()
    ack_wait_s: float = 30.0
    max_deliver: int = 5
    max_ack_pending: int = 10_000
    deliver_policy: DeliverPolicy = "all"
    description: str = ""

    def config(self) -> api.ConsumerConfig:
        single = self.filter_subjects[0] if len(self.filter_subjects) == 1 else None
        several = list(self.filter_subjects) if len(self.filter_subjects) > 1 else None
        return api.ConsumerConfig(
            durable_name=self.durable,
            description=self.description or None,
            deliver_policy=api.DeliverPolicy(self.deliver_policy),
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait_s,
            max_deliver=self.max_deliver,
            max_ack_pending=self.max_ack_pending,
            filter_subject=single,
            filter_subjects=several,
        )

    def differences(self, current: api.ConsumerConfig) -> tuple[str, ...]:
        filters = current.filter_subjects or (
            [current.filter_subject] if current.filter_subject else []
        )
        wanted = {
            "filter_subjects": tuple(sorted(self.filter_subjects)),
            "ack_wait_s": _ns(self.ack_wait_s),
            "max_deliver": self.max_deliver,
            "max_ack_pending": self.max_ack_pending,
            "deliver_policy": self.deliver_policy,
            "description": self.description,
            "ack_policy": "explicit",
        }
        actual = {
            "filter_subjects": tuple(sorted(filters)),
            "ack_wait_s": _ns(current.ack_wait or 0.0),
            "max_deliver": current.max_deliver,
            "max_ack_pending": current.max_ack_pending,
            "deliver_policy": _enum_value(current.deliver_policy),
            "description": current.description or "",
            "ack_policy": _enum_value(current.ack_policy),
        }
        return tuple(key for key, value in wanted.items() if actual[key] != value)


@dataclass(frozen=True, slots=True)
class KvSpec:
    """A key-value bucket. ``history`` values kept per key; ``ttl_s`` 0 keeps forever."""

    bucket: str
    history: int = 1
    ttl_s: float = 0.0
    storage: Storage = "file"
    replicas: int = 1
    max_bytes: int = -1
    description: str = ""

    @property
    def stream_name(self) -> str:
        return f"KV_{self.bucket}"

    def differences(self, current: api.StreamConfig) -> tuple[str, ...]:
        wanted = {
            "history": self.history,
            "ttl_s": _ns(self.ttl_s),
            "storage": self.storage,
            "replicas": self.replicas,
            "max_bytes": self.max_bytes,
            "description": self.description,
        }
        actual = {
            "history": current.max_msgs_per_subject,
            "ttl_s": _ns(current.max_age or 0.0),
            "storage": _enum_value(current.storage),
            "replicas": current.num_replicas,
            "max_bytes": current.max_bytes,
            "description": current.description or "",
        }
        return tuple(key for key, value in wanted.items() if actual[key] != value)


@dataclass(frozen=True, slots=True)
class Change:
    """What `provision()` did to one object; ``fields`` lists what differed on update."""

    kind: Literal["stream", "consumer", "kv"]
    name: str
    action: Action
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProvisionReport:
    changes: tuple[Change, ...]

    def _named(self, action: Action) -> tuple[str, ...]:
        return tuple(f"{c.kind} {c.name}" for c in self.changes if c.action == action)

    @property
    def created(self) -> tuple[str, ...]:
        return self._named("created")

    @property
    def updated(self) -> tuple[str, ...]:
        return self._named("updated")

    @property
    def unchanged(self) -> tuple[str, ...]:
        return self._named("unchanged")

    @property
    def changed(self) -> bool:
        return any(c.action != "unchanged" for c in self.changes)


async def provision(
    bus: Bus,
    streams: Iterable[StreamSpec] = (),
    consumers: Iterable[ConsumerSpec] = (),
    kvs: Iterable[KvSpec] = (),
) -> ProvisionReport:
    """Make the server match the specs (streams first, then consumers, then buckets)."""
    changes = [await _stream(bus, spec) for spec in streams]
    changes += [await _consumer(bus, spec) for spec in consumers]
    changes += [await _kv(bus, spec) for spec in kvs]
    report = ProvisionReport(tuple(changes))
    for change in report.changes:
        if change.action != "unchanged":
            log.info(
                "%s %s %s",
                change.action,
                change.kind,
                change.name,
                extra={"fields": list(change.fields)},
            )
    return report


async def _stream(bus: Bus, spec: StreamSpec) -> Change:
    js = bus.js
    with nats_errors(f"provision stream {spec.name}"):
        try:
            info = await js.stream_info(spec.name)
        except nats.js.errors.NotFoundError:
            await js.add_stream(spec.config())
            return Change("stream", spec.name, "created")
        differ = spec.differences(info.config)
        if not differ:
            return Change("stream", spec.name, "unchanged")
        await js.update_stream(spec.config())
    return Change("stream", spec.name, "updated", differ)


async def _consumer(bus: Bus, spec: ConsumerSpec) -> Change:
    js = bus.js
    name = f"{spec.stream}/{spec.durable}"
    with nats_errors(f"provision consumer {name}"):
        try:
            info = await js.consumer_info(spec.stream, spec.durable)
        except nats.js.errors.NotFoundError:
            await js.add_consumer(spec.stream, spec.config())
            return Change("consumer", name, "created")
        differ = spec.differences(info.config)
        if not differ:
            return Change("consumer", name, "unchanged")
        # Creating a durable that exists updates it when only updatable fields differ.
        await js.add_consumer(spec.stream, spec.config())
    return Change("consumer", name, "updated", differ)


async def _kv(bus: Bus, spec: KvSpec) -> Change:
    js = bus.js
    with nats_errors(f"provision kv bucket {spec.bucket}"):
        try:
            info = await js.stream_info(spec.stream_name)
        except nats.js.errors.NotFoundError:
            await js.create_key_value(
                api.KeyValueConfig(
                    bucket=spec.bucket,
                    description=spec.description or None,
                    history=spec.history,
                    ttl=spec.ttl_s or None,
                    max_bytes=spec.max_bytes,
                    storage=api.StorageType(spec.storage),
                    replicas=spec.replicas,
                )
            )
            return Change("kv", spec.bucket, "created")
        differ = spec.differences(info.config)
        if not differ:
            return Change("kv", spec.bucket, "unchanged")
        ttl_s = spec.ttl_s
        dup_s = min(_KV_DUPLICATE_WINDOW_S, ttl_s) if ttl_s else _KV_DUPLICATE_WINDOW_S
        await js.update_stream(
            info.config.evolve(
                description=spec.description or None,
                max_msgs_per_subject=spec.history,
                max_age=ttl_s,
                duplicate_window=dup_s,
                storage=api.StorageType(spec.storage),
                num_replicas=spec.replicas,
                max_bytes=spec.max_bytes,
            )
        )
    return Change("kv", spec.bucket, "updated", differ)


def _ns(seconds: float | None) -> int:
    """Seconds as integer nanoseconds, so float round-trips compare equal."""
    return round((seconds or 0.0) * 1e9)


def _enum_value(value: object) -> object:
    return getattr(value, "value", value)
