"""`OrderedTail`: an ordered, ephemeral JetStream reader of one subject filter.

A read-only view of a stream, for readers that keep no durable state of their own (the
gateway's picture of events the archiver has not flushed yet, live dashboards). It owns
one *ephemeral* pull consumer at a time (memory storage, one replica, no acks, removed by
the server ``inactive_threshold_s`` after its reader went away) and hands every message to
the handler exactly once, in stream order.

Where it starts (`TailStart`): at a time (``by_start_time``, JetStream's stored
timestamps), at the last message of each subject (``last_per_subject``), at a sequence,
at the first message, or at the next one.

Order survives anything that breaks the consumer. Each delivery carries its consumer
sequence; a jump in it (a message the server skipped), a reconnect, a pull that went
silent (two missed heartbeats), or a "consumer deleted" status ends the current consumer
and a new one is created at ``last stream sequence handled + 1`` (``by_start_sequence``).
Deliveries of an old consumer are told apart by their inbox token and ignored. So the
handler never sees a message twice nor out of order; it misses messages only if the stream
itself discarded them (``max_age``) before the new consumer was made. A missing stream or
an unreachable server is retried with capped, jittered backoff until `stop()`.

At most two pull batches are requested-or-unhandled at once (bounded memory; JetStream is
the buffer). Handler exceptions are logged and counted (``TailStats.handler_errors``) and
the tail goes on: it is a view, and one bad message must not end it. `TailStats` holds
plain counters for the owner to export as metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import json
import logging
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import nats.errors
from nats.aio.msg import Msg
from nats.js import api

from ssmd.bus.connection import Bus
from ssmd.bus.errors import NotFoundError, nats_errors
from ssmd.bus.message import MSG_ID_HEADER, Handler, Message, parse_ack_subject
from ssmd.core.cancel import raise_if_cancelling
from ssmd.core.errors import BadInputError, TemporaryError, UnavailableError
from ssmd.core.ids import new_id
from ssmd.core.retry import Backoff

log = logging.getLogger(__name__)

StartPolicy = Literal["by_start_time", "last_per_subject", "by_start_sequence", "all", "new"]
TailState = Literal["starting", "running", "waiting", "stopped"]

_LOUD_EVERY = 12  # retry attempts between warnings (12 x the 5 s cap: about a minute)
_DEFAULT_RETRY = Backoff(initial_s=0.2, max_s=5.0)


@dataclass(frozen=True, slots=True)
class TailStart:
    """Where a tail begins; build it with the class methods."""

    policy: StartPolicy
    time_ns: int | None = None
    sequence: int | None = None

    @classmethod
    def at_time(cls, time_ns: int) -> TailStart:
        """Messages stored at or after `time_ns` (Unix ns; rounded down to a microsecond)."""
        if time_ns < 0:
            raise ValueError("time_ns must be >= 0")
        return cls("by_start_time", time_ns=time_ns)

    @classmethod
    def last_per_subject(cls) -> TailStart:
        """The newest message of every subject the filter matches, then new ones."""
        return cls("last_per_subject")

    @classmethod
    def at_sequence(cls, sequence: int) -> TailStart:
        """Messages from stream sequence `sequence` (>= 1) on."""
        if sequence < 1:
            raise ValueError("sequence must be >= 1")
        return cls("by_start_sequence", sequence=sequence)

    @classmethod
    def everything(cls) -> TailStart:
        """Every message the stream holds, then new ones."""
        return cls("all")

    @classmethod
    def new_only(cls) -> TailStart:
        """Only messages stored after the consumer is created."""
        return cls("new")


@dataclass(slots=True, eq=False)
class TailStats:
    """What a tail has done; plain fields, read by the owner's metrics at scrape time."""

    state: TailState = "starting"
    delivered: int = 0  # messages handed to the handler
    handler_errors: int = 0
    resets: int = 0  # consumers re-created to keep order (gap, reconnect, silence)
    pending: int = 0  # messages the server still holds for us after the last one delivered
    last_stream_seq: int = 0  # stream sequence of the last message accepted
    last_timestamp_ns: int = 0  # when the stream stored that message
    caught_up: bool = False  # pending reached 0 at least once
    last_error: str = ""


class OrderedTail:
    """Runs `handler` over `filter_subjects` of `stream`, in order, until stopped."""

    def __init__(
        self,
        bus: Bus,
        stream: str,
        filter_subjects: str | Sequence[str],
        handler: Handler,
        *,
        start: TailStart,
        batch_size: int | None = None,
        heartbeat_s: float | None = None,
        expires_s: float | None = None,
        inactive_threshold_s: float = 30.0,
        retry_backoff: Backoff | None = None,
        name: str = "tail",
    ) -> None:
        subjects = (filter_subjects,) if isinstance(filter_subjects, str) else filter_subjects
        if not subjects:
            raise ValueError("an OrderedTail needs at least one filter subject")
        settings = bus.settings
        self._bus = bus
        self._stream = stream
        self._filters = tuple(subjects)
        self._handler = handler
        self._start = start
        self._batch = batch_size or settings.consumer_batch_size
        if self._batch < 1:
            raise ValueError("batch_size must be >= 1")
        self._heartbeat_s = heartbeat_s or settings.consumer_heartbeat_s
        self._expires_s = expires_s or settings.consumer_expires_s
        if self._heartbeat_s >= self._expires_s:
            raise ValueError("heartbeat_s must be less than expires_s")
        self._inactive_s = max(inactive_threshold_s, self._expires_s + self._heartbeat_s)
        self._retry = retry_backoff or _DEFAULT_RETRY
        self._name = name
        self._buffer_cap = 2 * self._batch
        self._refill_at = max(1, self._batch // 2)
        self.stats = TailStats()
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._ready: deque[Message] = deque()
        self._generation = 0
        self._consumer = ""  # name of the current ephemeral consumer
        self._expected_cseq = 1
        self._credits = 0  # messages requested, not yet received
        self._last_seen = 0.0  # monotonic time of the last delivery or status
        self._reset_reason = ""  # set when the current consumer must be replaced
        self._running = False

    @property
    def stream(self) -> str:
        return self._stream

    @property
    def filter_subjects(self) -> tuple[str, ...]:
        return self._filters

    def stop(self) -> None:
        """Ask `run()` to return after the handler call in progress."""
        self._stop.set()
        self._wake.set()

    async def run(self) -> None:
        """Deliver messages until `stop()` or cancellation.

        A missing stream and an unreachable server are waited out; any other
        `PermanentError` (a filter the stream does not capture, say) is a configuration bug
        and is raised.
        """
        if self._running:
            raise RuntimeError("OrderedTail.run() is already running")
        self._running = True
        remove_listener = self._bus.add_reconnect_listener(self._on_reconnect)
        attempt = 0
        try:
            while not self._stop.is_set():
                if self._bus.is_closed:
                    raise UnavailableError(f"tail {self._name}: the bus was closed")
                try:
                    await self._one_consumer()
                    attempt = 0
                except (TemporaryError, NotFoundError) as exc:  # NATS away, no stream yet
                    attempt += 1
                    delay_s = self._retry.delay_s(attempt)
                    self.stats.state = "waiting"
                    self.stats.last_error = str(exc)
                    # Loud on the first failure of a streak, then about once a minute.
                    level = logging.WARNING if attempt % _LOUD_EVERY == 1 else logging.DEBUG
                    log.log(level, "%s; retrying in %.2fs (attempt %d)", exc, delay_s, attempt)
                    await self._sleep_or_wake(delay_s)
        finally:
            remove_listener()
            self.stats.state = "stopped"
            self._running = False

    # -- one consumer generation ---------------------------------------------------------
    async def _one_consumer(self) -> None:
        """Create a consumer where the last one left off, pump it until it must be replaced."""
        self._generation += 1
        generation = self._generation
        self._consumer = f"{self._name}_{new_id()}"
        self._expected_cseq = 1
        self._credits = 0
        self._reset_reason = ""
        nc = self._bus.nc
        # An inbox per consumer: statuses of a consumer we left cannot reach the next one.
        inbox = nc.new_inbox()
        with nats_errors(f"tail {self._name}: subscribe"):
            sub = await nc.subscribe(inbox, cb=functools.partial(self._on_delivery, generation))
        try:
            with nats_errors(f"tail {self._name}: create consumer on {self._stream}"):
                info = await self._bus.js.add_consumer(self._stream, self._config())
            self.stats.state = "running"
            self.stats.last_error = ""
            self.stats.pending = info.num_pending or 0
            if not self.stats.pending:
                self.stats.caught_up = True
            try:
                await self._pump(inbox)
            finally:
                await self._delete_consumer(self._consumer)
        finally:
            self._generation += 1  # late deliveries of this consumer are now ignored
            if not nc.is_closed:
                with contextlib.suppress(nats.errors.Error, OSError):
                    await sub.unsubscribe()
        if self._reset_reason and not self._stop.is_set():
            self.stats.resets += 1
            log.info(
                "tail %s on %s: %s; resuming after stream seq %d",
                self._name,
                self._stream,
                self._reset_reason,
                self.stats.last_stream_seq,
            )

    def _config(self) -> api.ConsumerConfig:
        start = self._start
        if self.stats.last_stream_seq:
            start = TailStart.at_sequence(self.stats.last_stream_seq + 1)
        start_time = None
        if start.time_ns is not None:
            seconds, ns = divmod(start.time_ns, 1_000_000_000)
            start_time = dt.datetime.fromtimestamp(seconds, dt.UTC) + dt.timedelta(
                microseconds=ns // 1000
            )
        single = self._filters[0] if len(self._filters) == 1 else None
        return api.ConsumerConfig(
            name=self._consumer,
            deliver_policy=api.DeliverPolicy(start.policy),
            opt_start_seq=start.sequence,
            opt_start_time=start_time,
            ack_policy=api.AckPolicy.NONE,
            max_deliver=1,
            filter_subject=single,
            filter_subjects=list(self._filters) if single is None else None,
            inactive_threshold=self._inactive_s,
            mem_storage=True,
            num_replicas=1,
        )

    async def _delete_consumer(self, name: str) -> None:
        # Best effort: the server drops it after inactive_threshold_s anyway.
        if not self._bus.is_connected:
            return
        with contextlib.suppress(nats.errors.Error, OSError, TimeoutError):
            await self._bus.js.delete_consumer(self._stream, name)

    async def _pump(self, inbox: str) -> None:
        nc = self._bus.nc
        request = {
            "expires": round(self._expires_s * 1e9),
            "idle_heartbeat": round(self._heartbeat_s * 1e9),
        }
        pull_subject = f"$JS.API.CONSUMER.MSG.NEXT.{self._stream}.{self._consumer}"
        self._last_seen = time.monotonic()
        while not self._stop.is_set() and not self._reset_reason:
            if self._bus.is_closed:
                raise UnavailableError(f"tail {self._name}: the bus was closed")
            now = time.monotonic()
            if self._credits and now - self._last_seen > 2 * self._heartbeat_s + 1.0:
                self._reset_reason = "pull went silent"
                break
            room = self._buffer_cap - self._credits - len(self._ready)
            if room >= self._refill_at and nc.is_connected:
                batch = min(room, self._batch)
                payload = json.dumps({**request, "batch": batch}).encode()
                with nats_errors(f"tail {self._name}: pull"):
                    await nc.publish(pull_subject, payload, reply=inbox)
                if not self._credits:
                    self._last_seen = now  # silence is measured from the first request
                self._credits += batch
                continue
            if self._ready:
                await self._handle(self._ready.popleft())
                continue
            await self._sleep_or_wake(self._heartbeat_s)

    async def _handle(self, message: Message) -> None:
        try:
            await self._handler(message)
        except Exception:  # a view goes on past one bad message; counted and logged
            self.stats.handler_errors += 1
            log.exception(
                "tail %s: handler failed on %s seq %d",
                self._name,
                message.subject,
                message.stream_seq,
            )
        self.stats.delivered += 1

    async def _sleep_or_wake(self, timeout_s: float) -> None:
        raise_if_cancelling()  # every retry waits here: keep a cancel nats-py swallowed
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._wake.wait()

    # -- deliveries (subscription callback, runs in order) -------------------------------
    def _on_reconnect(self) -> None:
        # Pull requests (and a memory consumer, if the server restarted) died with the
        # connection: start a new consumer after the last message accepted.
        self._reset_reason = "reconnected"
        self._wake.set()

    async def _on_delivery(self, generation: int, msg: Msg) -> None:
        if generation != self._generation or self._reset_reason:
            return  # a late message or status of a consumer we have left
        self._last_seen = time.monotonic()
        if not msg.reply:
            self._on_status(msg.headers or {})
            return
        try:
            stream, consumer, delivered, sseq, cseq, ts_ns, pending = parse_ack_subject(msg.reply)
        except BadInputError:
            self._reset("unreadable delivery metadata")
            return
        if consumer != self._consumer:
            return
        if cseq != self._expected_cseq:
            self._reset(f"consumer sequence gap (expected {self._expected_cseq}, got {cseq})")
            return
        self._expected_cseq = cseq + 1
        if self._credits:
            self._credits -= 1
        headers: Mapping[str, str] = msg.headers or {}
        stats = self.stats
        stats.last_stream_seq = sseq
        stats.last_timestamp_ns = ts_ns
        stats.pending = pending
        if not pending:
            stats.caught_up = True
        self._ready.append(
            Message(
                msg.subject,
                msg.data,
                headers,
                headers.get(MSG_ID_HEADER),
                stream,
                consumer,
                sseq,
                cseq,
                delivered,
                pending,
                ts_ns,
            )
        )
        if not self._wake.is_set():
            self._wake.set()

    def _on_status(self, headers: Mapping[str, str]) -> None:
        status = headers.get("Status", "")
        if status == "100":
            return  # idle heartbeat: the request is alive
        description = headers.get("Description", "")
        if status == "503" or "Consumer Deleted" in description:
            self._reset(f"consumer gone ({status} {description})".strip())
            return
        # The request ended (408 expired, 409 cut short) leaving this many undelivered.
        unfilled = headers.get("Nats-Pending-Messages")
        if unfilled is not None and unfilled.isdigit():
            self._credits = max(0, self._credits - int(unfilled))
        else:
            self._credits = 0
        self._wake.set()

    def _reset(self, reason: str) -> None:
        if not self._reset_reason:
            self._reset_reason = reason
        self._wake.set()
