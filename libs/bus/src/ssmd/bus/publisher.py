"""`Publisher`: pipelined, deduplicated JetStream publishing with bounded in-flight.

Every message carries ``Nats-Msg-Id`` (the caller's idempotency key) and the current trace
context. ``publish()`` returns as soon as the message is written to the connection; its
JetStream ack arrives later on one wildcard inbox subscription owned by the publisher and is
matched to the message by the inbox token. At most ``max_in_flight`` messages wait for an
ack at once: a full window makes ``publish()`` wait, which is the back-pressure.

Nothing fails silently. A message is failed when the stream rejects it (an API error), when
no stream captures its subject, or when no ack came within ``ack_timeout_s`` (a sweeper task
checks the oldest messages). Failures are counted, logged, and raised by the next
``flush()`` as a `PublishError` naming every msg id: publish those again with the same
msg id and JetStream's duplicate window makes the retry safe.

Retries (``retry_s`` > 0, the default from `BusSettings.publish_retry_s`): a message that
failed temporarily (no ack in time, a 5xx, no responders while JetStream restarts) is sent
again with the same msg id, with capped jittered backoff, until it is acked or ``retry_s``
has passed since its first send; only then is it a failure. It keeps its place in the
window meanwhile, so a long outage turns into back-pressure on `publish()`, not data loss.

Why not nats-py's ``publish_async``: its acks have no timeout (a lost ack waits forever) and
its reply handler raises instead of failing the future on an API error (nats-py 2.16), so
the caller would never hear of the failure. Correlating acks here costs no more per message.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Callable, Mapping
from time import monotonic
from types import TracebackType
from typing import Generic, Self, TypeVar

import msgspec
import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from opentelemetry import context as otel_context
from prometheus_client import CollectorRegistry

from ssmd.bus.connection import Bus
from ssmd.bus.errors import (
    NotFoundError,
    PublishError,
    PublishFailure,
    api_error,
    nats_errors,
    translate,
)
from ssmd.bus.message import MSG_ID_HEADER, PublishAck
from ssmd.bus.metrics import bus_collector
from ssmd.core.errors import (
    PermanentError,
    SsmdError,
    TemporaryError,
    TimeoutExpiredError,
)
from ssmd.core.retry import Backoff
from ssmd.core.tracing import inject_context

log = logging.getLogger(__name__)

T = TypeVar("T")

_LOGGED_FAILURES_PER_FLUSH = 10  # individual warnings before failures are only summarised
_MAX_RECORDED_FAILURES = 100_000  # failures kept for flush(); the rest are only counted
_NO_STREAM_GRACE_S = 5.0  # how long "no stream for this subject" is retried


class _ApiErrorWire(msgspec.Struct):
    code: int = 0
    err_code: int = 0
    description: str = ""


class _AckWire(msgspec.Struct):
    stream: str = ""
    seq: int = 0
    duplicate: bool = False
    error: _ApiErrorWire | None = None


_decode_ack = msgspec.json.Decoder(_AckWire).decode
_current_context = otel_context.get_current


def _ack_failure(subject: str, msg: Msg, ack: _AckWire | None) -> SsmdError:
    """Why the reply to a publish is not a successful ack."""
    if ack is not None and ack.error is not None:
        e = ack.error
        return api_error(e.code, e.err_code, e.description)
    if not msg.data:
        status = (msg.headers or {}).get("Status", "")
        if status == "503":  # no responders: nothing listens on the subject
            return NotFoundError(f"no stream captures subject {subject}")
        return TemporaryError(f"JetStream answered status {status or '(none)'}")
    return TemporaryError(f"unreadable ack {msg.data[:80]!r}")


class _Entry:
    """One message in the window: what to resend and when it was (first) sent."""

    __slots__ = ("first_sent_at", "headers", "msg_id", "payload", "sent_at", "subject")

    def __init__(  # noqa: PLR0917 - a private record built in one place
        self,
        msg_id: str,
        subject: str,
        sent_at: float,
        first_sent_at: float,
        payload: bytes,
        headers: dict[str, str] | None,
    ) -> None:
        self.msg_id = msg_id
        self.subject = subject
        self.sent_at = sent_at
        self.first_sent_at = first_sent_at
        self.payload = payload
        self.headers = headers


class Publisher:
    """Publishes bytes to JetStream subjects with acks awaited in bulk, not one by one.

    Use as ``async with Publisher(bus) as pub:`` (flushes on a clean exit, then closes),
    or call `flush()` and `close()` yourself. Not thread-safe; one event loop.
    """

    def __init__(
        self,
        bus: Bus,
        *,
        max_in_flight: int | None = None,
        ack_timeout_s: float | None = None,
        name: str = "default",
        on_ack: Callable[[PublishAck], None] | None = None,
        registry: CollectorRegistry | None = None,
        retry_s: float | None = None,
    ) -> None:
        self._bus = bus
        self._retry_s = bus.settings.publish_retry_s if retry_s is None else retry_s
        self._max_in_flight = max_in_flight or bus.settings.publish_max_in_flight
        if self._max_in_flight < 1:
            raise ValueError("max_in_flight must be >= 1")
        # A full window reopens at 3/4, so waiting publishers resume in bulk, not per ack.
        self._resume_at = self._max_in_flight - max(1, self._max_in_flight // 4)
        self._ack_timeout_s = ack_timeout_s or bus.settings.publish_ack_timeout_s
        self._name = name
        self._ack_callback = on_ack
        self._stats = (bus.metrics if registry is None else bus_collector(registry)).publisher(name)
        # token -> entry; insertion order is send order.
        self._pending: dict[str, _Entry] = {}
        # Entries waiting to be sent again (temporary failures, within retry_s).
        self._retry: deque[_Entry] = deque()
        self._retry_wake = asyncio.Event()
        self._retrier: asyncio.Task[None] | None = None
        self._retry_backoff = Backoff(initial_s=0.2, max_s=5.0)
        self._retry_round = 0
        self._tokens = itertools.count(1)
        self._prefix = ""
        self._prefix_len = 0
        self._room = asyncio.Event()
        self._room.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._failures: list[PublishFailure] = []
        self._dropped_failures = 0
        self._logged_failures = 0
        self._sub: Subscription | None = None
        self._start_lock = asyncio.Lock()
        self._send = bus.nc.publish
        self._sweeper: asyncio.Task[None] | None = None
        self._closed = False

    # -- publishing ----------------------------------------------------------------------
    async def publish(
        self,
        subject: str,
        payload: bytes,
        *,
        msg_id: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Send one message; returns once it is in flight (not yet acked).

        Raises `UnavailableError` when the connection is down and its buffer is full,
        `PermanentError` for a malformed subject or an oversized payload. Ack failures
        come later, from `flush()`.
        """
        if self._sub is None:
            await self._start()  # or raise: closed
        pending = self._pending
        while len(pending) + len(self._retry) >= self._max_in_flight:
            self._room.clear()
            await self._room.wait()
            if self._closed:
                raise PermanentError(f"publisher {self._name} was closed")
        hdrs = {MSG_ID_HEADER: msg_id} if headers is None else {**headers, MSG_ID_HEADER: msg_id}
        if _current_context():  # an empty context has no span to propagate
            inject_context(hdrs)
        token = str(next(self._tokens))
        now = monotonic()
        # Registered before sending: the send may yield (a forced flush) and the ack may
        # be read before publish() returns. Payload and headers are kept only for retries.
        keep = self._retry_s > 0
        pending[token] = _Entry(
            msg_id, subject, now, now, payload if keep else b"", hdrs if keep else None
        )
        self._idle.clear()
        try:
            await self._send(subject, payload, self._prefix + token, hdrs)
        except (nats.errors.Error, OSError) as exc:
            pending.pop(token, None)
            self._settled()
            raise translate(exc, f"publish to {subject}") from exc
        stats = self._stats
        stats.published += 1
        stats.in_flight = len(pending)

    @property
    def in_flight(self) -> int:
        """Messages sent (or waiting to be sent again) and not yet acked or failed."""
        return len(self._pending) + len(self._retry)

    async def flush(self, timeout_s: float | None = None) -> None:
        """Wait until every message sent so far is acked or failed; raise the failures.

        `timeout_s` (default: the ack timeout) bounds the wait; messages still unacked
        then fail as timed out. Raises `TemporaryPublishError` or `PermanentPublishError`
        (both `PublishError`) listing the failed msg ids since the previous flush.
        """
        if self._pending or self._retry:
            try:
                async with asyncio.timeout(timeout_s or self._flush_timeout_s()):
                    await self._idle.wait()
            except TimeoutError:
                timeout = TimeoutExpiredError("no ack before flush timeout")
                for token in list(self._pending):
                    self._fail(token, timeout)
                self._fail_retries(timeout)
                self._settled()
        failures, self._failures = self._failures, []
        dropped, self._dropped_failures = self._dropped_failures, 0
        self._logged_failures = 0
        if failures or dropped:
            error = PublishError.of(tuple(failures), dropped=dropped)
            log.warning("publisher %s: %s", self._name, error)
            raise error

    def _flush_timeout_s(self) -> float:
        """Default wait of `flush()`: long enough for every retry a message may get."""
        return self._ack_timeout_s + self._retry_s

    def _fail_retries(self, error: SsmdError) -> None:
        while self._retry:
            entry = self._retry.popleft()
            self._record(entry.msg_id, entry.subject, error)

    async def close(self) -> None:
        """Stop the ack sweeper and the inbox; messages still unacked are failed (logged).

        Call `flush()` first to learn which messages did not make it.
        """
        if self._closed:
            return
        self._closed = True
        self._room.set()  # publishers waiting for room wake up and see "closed"
        tasks = [task for task in (self._sweeper, self._retrier) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._fail_retries(TemporaryError("publisher closed before the retry"))
        if self._pending:
            log.warning(
                "publisher %s closed with %d message(s) unacknowledged",
                self._name,
                len(self._pending),
            )
            for token in list(self._pending):
                self._fail(token, TemporaryError("publisher closed before the ack"))
            self._settled()
        if self._sub is not None and not self._bus.nc.is_closed:
            try:
                await self._sub.unsubscribe()
            except (nats.errors.Error, OSError):
                log.debug("publisher %s: inbox already gone", self._name)
        self._sub = None

    async def __aenter__(self) -> Self:
        await self._start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                await self.flush()
        finally:
            await self.close()

    # -- acks ----------------------------------------------------------------------------
    async def _start(self) -> None:
        async with self._start_lock:  # two first publishes must not subscribe twice
            if self._closed:
                raise PermanentError(f"publisher {self._name} is closed")
            if self._sub is not None:
                return
            nc = self._bus.nc
            self._send = nc.publish
            prefix = nc.new_inbox() + "."
            with nats_errors(f"publisher {self._name}: subscribe to acks"):
                sub = await nc.subscribe(prefix + "*", cb=self._on_ack_msg)
            self._prefix = prefix
            self._prefix_len = len(prefix)
            self._sub = sub
            self._sweeper = asyncio.create_task(
                self._sweep_timeouts(), name=f"ssmd.bus.publisher:{self._name}:ack-timeouts"
            )
            if self._retry_s > 0:
                self._retrier = asyncio.create_task(
                    self._resend_failed(), name=f"ssmd.bus.publisher:{self._name}:retries"
                )

    async def _on_ack_msg(self, msg: Msg) -> None:
        pending = self._pending
        entry = pending.pop(msg.subject[self._prefix_len :], None)
        stats = self._stats
        if entry is None:
            stats.late_acks += 1  # failed by timeout already; the retry dedups
            return
        try:
            ack = _decode_ack(msg.data) if msg.data else None
        except msgspec.DecodeError:
            ack = None
        if ack is not None and ack.error is None and ack.seq:
            stats.acked += 1
            stats.ack_latency.observe(monotonic() - entry.sent_at)
            if ack.duplicate:
                stats.duplicates += 1
            if self._ack_callback is not None:
                self._notify(
                    PublishAck(entry.msg_id, entry.subject, ack.stream, ack.seq, ack.duplicate)
                )
        else:
            self._failed(entry, _ack_failure(entry.subject, msg, ack))
        remaining = len(pending) + len(self._retry)
        stats.in_flight = remaining
        if remaining <= self._resume_at and not self._room.is_set():
            self._room.set()
        if not remaining:
            self._idle.set()

    def _notify(self, ack: PublishAck) -> None:
        assert self._ack_callback is not None
        try:
            self._ack_callback(ack)
        except Exception:  # the caller's callback must not break ack processing
            log.exception("publisher %s: on_ack callback failed for %s", self._name, ack.msg_id)

    def _settled(self) -> None:
        """Book-keeping after messages left the window: wake waiting publishers/flushers."""
        remaining = len(self._pending) + len(self._retry)
        self._stats.in_flight = remaining
        if remaining <= self._resume_at and not self._room.is_set():
            self._room.set()
        if remaining == 0:
            self._idle.set()

    def _fail(self, token: str, error: SsmdError) -> None:
        entry = self._pending.pop(token, None)
        if entry is not None:
            self._record(entry.msg_id, entry.subject, error)

    def _failed(self, entry: _Entry, error: SsmdError) -> None:
        """A send of `entry` failed: queue it to be sent again, or record the failure."""
        # "No responders" is also what a restarting JetStream answers before it has loaded
        # its streams, so it gets a short grace; a subject no stream takes fails soon after.
        window_s = (
            min(self._retry_s, _NO_STREAM_GRACE_S)
            if isinstance(error, NotFoundError)
            else self._retry_s
        )
        retryable = error.retryable or isinstance(error, NotFoundError)
        if retryable and monotonic() - entry.first_sent_at < window_s:
            self._stats.retried += 1
            self._retry.append(entry)
            self._retry_wake.set()
        else:
            self._record(entry.msg_id, entry.subject, error)

    async def _resend_failed(self) -> None:
        """Send queued entries again with their msg ids, backing off while it keeps failing."""
        while True:
            await self._retry_wake.wait()
            self._retry_round += 1
            await asyncio.sleep(self._retry_backoff.delay_s(self._retry_round))
            if not self._bus.is_connected:
                continue  # the reconnect will come; entries keep their place
            while self._retry:
                entry = self._retry[0]
                if monotonic() - entry.first_sent_at >= self._retry_s:
                    self._retry.popleft()
                    self._record(
                        entry.msg_id,
                        entry.subject,
                        TimeoutExpiredError(f"not acked within the {self._retry_s}s retry window"),
                    )
                    continue
                token = str(next(self._tokens))
                entry.sent_at = monotonic()
                try:
                    await self._send(
                        entry.subject, entry.payload, self._prefix + token, entry.headers
                    )
                except (nats.errors.Error, OSError):
                    break  # still down: try again after the next backoff
                self._retry.popleft()
                self._pending[token] = entry
            if not self._retry:
                self._retry_wake.clear()
                self._retry_round = 0
            self._settled()

    def _record(self, msg_id: str, subject: str, error: SsmdError) -> None:
        if error.retryable:
            self._stats.failed_temporary += 1
        else:
            self._stats.failed_permanent += 1
        if len(self._failures) < _MAX_RECORDED_FAILURES:
            self._failures.append(PublishFailure(msg_id, subject, error))
        else:
            self._dropped_failures += 1
        if self._logged_failures < _LOGGED_FAILURES_PER_FLUSH:
            self._logged_failures += 1
            log.warning(
                "publisher %s: message %s to %s failed: %s",
                self._name,
                msg_id,
                subject,
                error,
                extra={"msg_id": msg_id, "subject": subject},
            )

    async def _sweep_timeouts(self) -> None:
        """Fail messages whose ack is overdue; the oldest are first in the dict."""
        interval_s = min(1.0, self._ack_timeout_s / 4)
        while True:
            await asyncio.sleep(interval_s)
            deadline = monotonic() - self._ack_timeout_s
            expired = []
            for token, entry in self._pending.items():
                if entry.sent_at > deadline:
                    break
                expired.append(token)
            if expired:
                error = TimeoutExpiredError(f"no JetStream ack within {self._ack_timeout_s}s")
                for token in expired:
                    self._failed(self._pending.pop(token), error)
                self._settled()


class EncodingPublisher(Generic[T]):
    """A `Publisher` for objects: ``encode`` turns each into bytes (e.g. ``encode_event``)."""

    def __init__(self, publisher: Publisher, encode: Callable[[T], bytes]) -> None:
        self.publisher = publisher
        self._encode = encode

    async def publish(
        self,
        subject: str,
        obj: T,
        *,
        msg_id: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        await self.publisher.publish(subject, self._encode(obj), msg_id=msg_id, headers=headers)

    async def flush(self, timeout_s: float | None = None) -> None:
        await self.publisher.flush(timeout_s)


async def publish_one(
    bus: Bus,
    subject: str,
    payload: bytes,
    *,
    msg_id: str,
    headers: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
) -> PublishAck:
    """Publish one message and wait for its ack (slow: for rare messages such as DLQ)."""
    hdrs = {MSG_ID_HEADER: msg_id} if headers is None else {**headers, MSG_ID_HEADER: msg_id}
    inject_context(hdrs)
    timeout = timeout_s or bus.settings.request_timeout_s
    try:
        with nats_errors(f"publish to {subject}"):
            ack = await bus.js.publish(subject, payload, timeout=timeout, headers=hdrs)
    except NotFoundError:
        raise
    except SsmdError as exc:
        if isinstance(exc.__cause__, nats.js.errors.NoStreamResponseError):
            raise NotFoundError(f"no stream captures subject {subject}") from exc.__cause__
        raise
    return PublishAck(msg_id, subject, ack.stream, ack.seq, bool(ack.duplicate))
