"""`DurableConsumer`: a JetStream durable pull consumer with ack-after-work and a DLQ.

Messages are pulled in batches by publishing ``$JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>``
requests whose replies come to one inbox subscription (nats-py's ``fetch()`` costs a request,
a future and a timer per batch and tops out far lower; see bench/bench_bus.py). The consumer
keeps at most two batches requested-or-unfinished: a bounded in-process buffer, with
JetStream as the real one.

Each message is handed to the handler as a `Message` (no nats object) by up to
``concurrency`` worker tasks, under the trace context its publisher sent. Then:

* handler returned: ``+ACK`` (its work is done and durable, by the handler's contract);
* handler raised a `PermanentError`, or raised anything on the ``max_deliver``-th delivery:
  the original payload and headers go to the dead-letter subject with ``Ssmd-Dlq-*`` headers
  (an awaited JetStream publish), then ``+TERM``. If that publish fails the message is
  naked instead: never dropped;
* handler raised anything else: ``-NAK`` with a capped, jittered delay growing with the
  delivery count. Unexpected exceptions count as retryable here: a bug fixed by a deploy
  should not have sent the message away.

Delivery is at-least-once (an ack lost in a crash means a redelivery), so handlers must be
idempotent, keyed by ``Message.msg_id``.

`stop()` (or the ``stop_event``, or cancelling `run()`) stops pulling, lets the running
handlers finish and ack, naks what was received but not started, and returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Mapping

import nats.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from opentelemetry import context as otel_context
from prometheus_client import CollectorRegistry

from ssmd.bus.connection import Bus
from ssmd.bus.errors import nats_errors
from ssmd.bus.message import (
    DLQ_CONSUMER,
    DLQ_DELIVERIES,
    DLQ_MSG_ID,
    DLQ_REASON,
    DLQ_SEQ,
    DLQ_STREAM,
    DLQ_SUBJECT,
    MSG_ID_HEADER,
    Handler,
    Message,
    parse_ack_subject,
)
from ssmd.bus.metrics import ConsumerStats, bus_collector
from ssmd.bus.provisioning import ConsumerSpec, provision
from ssmd.bus.publisher import publish_one
from ssmd.core.cancel import raise_if_cancelling
from ssmd.core.errors import BadInputError, PermanentError, SsmdError, UnavailableError
from ssmd.core.retry import Backoff
from ssmd.core.tracing import extract_context

log = logging.getLogger(__name__)

_ACK = b"+ACK"
_TERM = b"+TERM"
_REASON_MAX_CHARS = 1000
_DEFAULT_NAK_BACKOFF = Backoff(initial_s=0.5, max_s=30.0)


class DurableConsumer:
    """Runs `handler` over a durable pull consumer until stopped; see the module docstring."""

    def __init__(
        self,
        bus: Bus,
        spec: ConsumerSpec,
        handler: Handler,
        *,
        dead_letter_subject: str,
        batch_size: int | None = None,
        concurrency: int | None = None,
        stop_event: asyncio.Event | None = None,
        nak_backoff: Backoff | None = None,
        provision_consumer: bool = True,
        registry: CollectorRegistry | None = None,
    ) -> None:
        settings = bus.settings
        self._bus = bus
        self._spec = spec
        self._handler = handler
        self._dlq_subject = dead_letter_subject
        self._batch = batch_size or settings.consumer_batch_size
        self._concurrency = concurrency or settings.consumer_concurrency
        if self._batch < 1 or self._concurrency < 1:
            raise ValueError("batch_size and concurrency must be >= 1")
        self._buffer_cap = 2 * self._batch
        self._refill_at = max(1, self._batch // 2)
        self._expires_ns = round(settings.consumer_expires_s * 1e9)
        self._heartbeat_s = settings.consumer_heartbeat_s
        self._stop_event = stop_event if stop_event is not None else asyncio.Event()
        self._backoff = nak_backoff or _DEFAULT_NAK_BACKOFF
        self._provision = provision_consumer
        collector = bus.metrics if registry is None else bus_collector(registry)
        self._stats: ConsumerStats = collector.consumer(spec.stream, spec.durable)
        self._next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{spec.stream}.{spec.durable}"
        self._ready: deque[Msg] = deque()  # received, not yet handled
        self._has_work = asyncio.Event()
        self._wake = asyncio.Event()
        self._credits = 0  # messages requested and not yet received
        self._busy = 0  # handler calls running
        self._last_seen = 0.0  # monotonic time of the last delivery or status
        self._paused_until = 0.0  # after a "no consumer" answer
        self._pause_attempt = 0
        self._stopping = False
        self._running = False

    @property
    def spec(self) -> ConsumerSpec:
        return self._spec

    def stop(self) -> None:
        """Ask `run()` to finish in-flight work and return."""
        self._stop_event.set()
        self._wake.set()

    async def run(self) -> None:
        """Consume until stopped. Raises `NotFoundError` if the stream does not exist."""
        if self._running:
            raise RuntimeError("DurableConsumer.run() is already running")
        self._running = True
        try:
            sub, inbox = await self._open()
        except BaseException:
            self._running = False
            raise
        nc = self._bus.nc
        remove_listener = self._bus.add_reconnect_listener(self._on_reconnect)
        name = f"ssmd.bus.consumer:{self._spec.stream}/{self._spec.durable}"
        workers = [
            asyncio.create_task(self._work(), name=f"{name}:worker-{i}")
            for i in range(self._concurrency)
        ]
        watcher = asyncio.create_task(self._watch_stop(), name=f"{name}:stop-watch")
        try:
            await self._pull_loop(inbox)
        finally:
            try:
                await self._finish(workers)
            finally:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
                remove_listener()
                if not nc.is_closed:
                    with contextlib.suppress(nats.errors.Error, OSError):
                        await sub.unsubscribe()
                self._running = False
                log.info("consumer %s stopped", self._spec.durable)

    async def _open(self) -> tuple[Subscription, str]:
        self._stopping = False
        if self._provision:
            await provision(self._bus, consumers=[self._spec])
        nc = self._bus.nc
        inbox = nc.new_inbox()
        with nats_errors(f"consumer {self._spec.durable}: subscribe"):
            sub = await nc.subscribe(inbox, cb=self._on_delivery)
        return sub, inbox

    # -- pulling -------------------------------------------------------------------------
    async def _pull_loop(self, inbox: str) -> None:
        nc = self._bus.nc
        request = {"expires": self._expires_ns, "idle_heartbeat": round(self._heartbeat_s * 1e9)}
        self._last_seen = time.monotonic()
        while not self._stop_event.is_set():
            if self._bus.is_closed:
                raise UnavailableError(f"consumer {self._spec.durable}: the bus was closed")
            now = time.monotonic()
            if not nc.is_connected or now < self._paused_until:
                await self._sleep_or_wake(self._heartbeat_s)
                continue
            if self._credits and now - self._last_seen > 2 * self._heartbeat_s + 1.0:
                log.warning("consumer %s: pull went silent; re-pulling", self._spec.durable)
                self._credits = 0
            room = self._room()
            if room >= self._refill_at:
                batch = min(room, self._batch)
                payload = json.dumps({**request, "batch": batch}).encode()
                try:
                    with nats_errors(f"consumer {self._spec.durable}: pull"):
                        await nc.publish(self._next_subject, payload, reply=inbox)
                except SsmdError as exc:
                    log.warning("consumer %s: %s", self._spec.durable, exc)
                    await self._sleep_or_wake(self._heartbeat_s)
                    continue
                if not self._credits:
                    self._last_seen = now  # silence is measured from the first request
                self._credits += batch
                continue
            await self._sleep_or_wake(self._heartbeat_s)

    def _room(self) -> int:
        """Messages we may still ask for without exceeding the buffer."""
        return self._buffer_cap - self._credits - len(self._ready) - self._busy

    async def _sleep_or_wake(self, timeout_s: float) -> None:
        raise_if_cancelling()  # every retry waits here: keep a cancel nats-py swallowed
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._wake.wait()

    async def _watch_stop(self) -> None:
        await self._stop_event.wait()
        self._wake.set()

    def _on_reconnect(self) -> None:
        # Pull requests lived on the old connection; ask again.
        self._credits = 0
        self._wake.set()

    async def _on_delivery(self, msg: Msg) -> None:
        self._last_seen = time.monotonic()
        if not msg.reply:  # a status: heartbeat, request expired/ended, no consumer
            self._on_status(msg.headers or {})
            return
        if self._credits:
            self._credits -= 1
        self._stats.received += 1
        if self._stopping:
            await self._settle(msg.reply, b"-NAK")
            self._stats.naked += 1
            return
        self._ready.append(msg)
        if not self._has_work.is_set():
            self._has_work.set()

    def _on_status(self, headers: Mapping[str, str]) -> None:
        status = headers.get("Status", "")
        if status == "100":
            self._pause_attempt = 0
            return  # idle heartbeat: the request is alive
        if status == "503":
            self._credits = 0
            self._pause("no responder for pulls (consumer or JetStream missing)")
            return
        # The request ended (408: expired; 409: refused or cut short), leaving this many
        # of its messages undelivered.
        unfilled = headers.get("Nats-Pending-Messages")
        if unfilled is not None and unfilled.isdigit():
            self._credits = max(0, self._credits - int(unfilled))
        else:
            self._credits = 0
        if status == "409":
            # Refusals (max waiting, consumer deleted...) would repeat if re-pulled at once.
            self._pause(f"pull refused: {headers.get('Description', '')}")
        else:
            self._pause_attempt = 0
        self._wake.set()

    def _pause(self, why: str) -> None:
        self._pause_attempt += 1
        delay_s = self._backoff.delay_s(self._pause_attempt)
        self._paused_until = time.monotonic() + delay_s
        log.warning("consumer %s: %s; pulling again in %.2fs", self._spec.durable, why, delay_s)

    # -- handling ------------------------------------------------------------------------
    async def _work(self) -> None:
        ready = self._ready
        has_work = self._has_work
        stats = self._stats
        while True:
            if not ready:
                if self._stopping:
                    return
                has_work.clear()
                await has_work.wait()
                continue
            msg = ready.popleft()
            self._busy += 1
            stats.in_flight = self._busy + len(ready)
            try:
                await self._process(msg)
            finally:
                self._busy -= 1
                # Wake the pull loop only when a new request is due, not per message.
                if not self._wake.is_set() and self._room() >= self._refill_at:
                    self._wake.set()

    async def _process(self, msg: Msg) -> None:
        reply = msg.reply
        headers = msg.headers or {}
        try:
            stream, consumer, delivered, sseq, cseq, ts_ns, pending = parse_ack_subject(reply)
        except BadInputError:
            log.exception("consumer %s: unreadable delivery; left to redeliver", self._spec.durable)
            return
        message = Message(
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
        token = otel_context.attach(extract_context(headers)) if "traceparent" in headers else None
        started = time.perf_counter()
        try:
            await self._handler(message)
        except Exception as exc:  # noqa: BLE001 - every handler failure is settled below
            self._stats.handler_errors += 1
            await self._on_handler_error(msg, message, exc)
        else:
            self._stats.handler_latency.observe(time.perf_counter() - started)
            await self._settle(reply, _ACK)
            self._stats.acked += 1
        finally:
            if token is not None:
                otel_context.detach(token)

    async def _on_handler_error(self, msg: Msg, message: Message, exc: Exception) -> None:
        max_deliver = self._spec.max_deliver
        exhausted = max_deliver > 0 and message.num_delivered >= max_deliver
        if isinstance(exc, PermanentError) or exhausted:
            try:
                await self._dead_letter(msg, message, exc)
            except SsmdError as dlq_error:
                log.error(
                    "consumer %s: dead-lettering seq %d failed (%s); naked instead",
                    self._spec.durable,
                    message.stream_seq,
                    dlq_error,
                )
            else:
                await self._settle(msg.reply, _TERM)
                self._stats.dead_lettered += 1
                return
        delay_s = self._backoff.delay_s(max(1, message.num_delivered))
        log.warning(
            "consumer %s: handler failed on seq %d (delivery %d): %s: %s; retrying in %.2fs",
            self._spec.durable,
            message.stream_seq,
            message.num_delivered,
            type(exc).__name__,
            exc,
            delay_s,
        )
        await self._settle(msg.reply, b'-NAK {"delay": %d}' % round(delay_s * 1e9))
        self._stats.naked += 1

    async def _dead_letter(self, msg: Msg, message: Message, exc: Exception) -> None:
        # Nats-* headers steer the original publish (dedup id, expectations); drop them.
        headers = {k: v for k, v in message.headers.items() if not k.startswith("Nats-")}
        reason = f"{type(exc).__name__}: {exc}".replace("\r", " ").replace("\n", " ")
        headers[DLQ_REASON] = reason[:_REASON_MAX_CHARS]
        headers[DLQ_STREAM] = message.stream
        headers[DLQ_SUBJECT] = message.subject
        headers[DLQ_SEQ] = str(message.stream_seq)
        headers[DLQ_DELIVERIES] = str(message.num_delivered)
        headers[DLQ_CONSUMER] = message.consumer
        if message.msg_id is not None:
            headers[DLQ_MSG_ID] = message.msg_id
        await publish_one(
            self._bus,
            self._dlq_subject,
            msg.data,
            msg_id=f"dlq:{message.stream}:{message.stream_seq}",
            headers=headers,
        )
        log.error(
            "consumer %s: seq %d dead-lettered to %s: %s",
            self._spec.durable,
            message.stream_seq,
            self._dlq_subject,
            headers[DLQ_REASON],
            extra={"msg_id": message.msg_id, "subject": message.subject},
        )

    async def _settle(self, reply: str, verdict: bytes) -> None:
        try:
            await self._bus.nc.publish(reply, verdict)
        except (nats.errors.Error, OSError) as exc:
            # Not settled: JetStream redelivers after ack_wait, and handlers are idempotent.
            log.warning("consumer %s: could not send %r: %s", self._spec.durable, verdict, exc)

    # -- stopping ------------------------------------------------------------------------
    async def _finish(self, workers: list[asyncio.Task[None]]) -> None:
        """Nak what never started, let running handlers finish and settle, end workers."""
        self._stopping = True
        ready = self._ready
        while ready:
            await self._settle(ready.popleft().reply, b"-NAK")
            self._stats.naked += 1
        self._has_work.set()  # idle workers see "stopping" and return
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            self._stats.in_flight = 0
