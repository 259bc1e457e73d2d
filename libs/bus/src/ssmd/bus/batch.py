"""`BatchConsumer`: a durable pull consumer whose handler takes many messages at once.

For work that is only durable per batch (a Parquet file, a database COPY): the handler
receives up to ``max_batch`` messages, and every one of them is acked only after it
returns. It reuses `DurableConsumer`'s pulling, status handling, dead-lettering and
settling; only the worker differs:

* Messages accumulate until ``max_batch`` are waiting or the oldest has waited
  ``max_wait_s``, then go to the handler together. While the handler runs, the next batch
  keeps arriving, so pulling and handling overlap.
* At most ``max_buffered`` messages are held (waiting plus in the handler plus requested),
  whatever the backlog; at most two pull requests are outstanding. Give the consumer a
  ``max_ack_pending`` of at least ``max_buffered`` (the server enforces it too).
* The handler returns the messages it rejects as `Rejected` (poison input): each goes to
  the dead-letter subject with its reason, then ``+TERM``; the rest are acked. If the
  dead-letter publish fails the message is naked instead, never dropped.
* If the handler raises, the whole batch is naked with a capped, jittered delay (a batch
  failure is about the batch, not one message); messages at ``max_deliver``, or all of
  them for a `PermanentError`, are dead-lettered instead, as in `DurableConsumer`.
* Stopping (`stop()`, the stop event, cancelling `run()`) stops pulling, hands what is
  buffered to the handler in final batches, settles them, and returns.

Delivery is at-least-once: a crash between the handler's work and the acks redelivers,
so handlers must be idempotent (by ``Message.stream_seq`` or ``Message.msg_id``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import NamedTuple

import nats.errors
from nats.aio.msg import Msg
from prometheus_client import CollectorRegistry

from ssmd.bus.connection import Bus
from ssmd.bus.consumer import DurableConsumer
from ssmd.bus.message import MSG_ID_HEADER, Message, parse_ack_subject
from ssmd.bus.provisioning import ConsumerSpec
from ssmd.core.errors import BadInputError, PermanentError, SsmdError
from ssmd.core.retry import Backoff

log = logging.getLogger(__name__)

_ACK = b"+ACK"
_TERM = b"+TERM"


class Rejected(NamedTuple):
    """A message the batch handler refuses for good; ``error`` says why (the DLQ reason)."""

    message: Message
    error: Exception


BatchHandler = Callable[[Sequence[Message]], Awaitable[Sequence[Rejected]]]
"""Handles a batch; returns the rejected messages (usually none). Raising naks them all."""


async def _no_single_handler(_message: Message) -> None:  # pragma: no cover - never called
    raise RuntimeError("BatchConsumer hands messages to its batch handler only")


class BatchConsumer(DurableConsumer):
    """Runs `handler` over batches of a durable pull consumer; see the module docstring."""

    def __init__(
        self,
        bus: Bus,
        spec: ConsumerSpec,
        handler: BatchHandler,
        *,
        dead_letter_subject: str,
        max_batch: int,
        max_wait_s: float,
        max_buffered: int | None = None,
        fetch_batch: int | None = None,
        stop_event: asyncio.Event | None = None,
        nak_backoff: Backoff | None = None,
        provision_consumer: bool = True,
        registry: CollectorRegistry | None = None,
    ) -> None:
        super().__init__(
            bus,
            spec,
            _no_single_handler,
            dead_letter_subject=dead_letter_subject,
            batch_size=fetch_batch,
            concurrency=1,  # one batch at a time: batches are handled in order
            stop_event=stop_event,
            nak_backoff=nak_backoff,
            provision_consumer=provision_consumer,
            registry=registry,
        )
        buffered = max_buffered if max_buffered is not None else 2 * max_batch
        if max_batch < 1 or max_wait_s <= 0:
            raise ValueError("max_batch must be >= 1 and max_wait_s > 0")
        if buffered < max_batch:
            raise ValueError(f"max_buffered ({buffered}) must be >= max_batch ({max_batch})")
        if spec.ack_wait_s <= max_wait_s:
            raise ValueError(
                f"ack_wait_s ({spec.ack_wait_s}) must exceed max_wait_s ({max_wait_s}): "
                "messages would be redelivered while still waiting for their batch"
            )
        self._batch_handler = handler
        self._max_batch = max_batch
        self._max_wait_s = max_wait_s
        self._buffer_cap = buffered  # replaces DurableConsumer's 2 x pull batch
        # Two pull requests must fit in the buffer, or none would ever be sent.
        self._batch = min(self._batch, max(1, buffered // 2))
        self._refill_at = max(1, self._batch // 2)
        # Credits at or below which a new pull request may be due (see _on_delivery).
        self._pull_due_at = 2 * self._batch - self._refill_at
        self._full = asyncio.Event()
        self._opened_at: float | None = None  # when the batch being gathered began
        self._handling_since: float | None = None  # when the batch in the handler began
        self._high_water = 0

    # -- what a service watches ----------------------------------------------------------
    @property
    def buffered(self) -> int:
        """Messages held now: waiting for a batch plus in the handler."""
        return len(self._ready) + self._busy

    @property
    def buffered_high_water(self) -> int:
        """The most messages held at once since this consumer was built."""
        return max(self._high_water, self.buffered)

    def oldest_buffered_age_s(self) -> float:
        """Seconds the oldest held message has waited (0 when none is held)."""
        since = self._handling_since if self._busy else self._opened_at
        if since is None or not self.buffered:
            return 0.0
        return max(0.0, time.monotonic() - since)

    # -- DurableConsumer hooks -----------------------------------------------------------
    def _room(self) -> int:
        """Messages we may still ask for: within the buffer, two pull requests at most."""
        held = self._credits + len(self._ready) + self._busy
        return min(self._buffer_cap - held, 2 * self._batch - self._credits)

    async def _on_delivery(self, msg: Msg) -> None:
        await super()._on_delivery(msg)
        if len(self._ready) >= self._max_batch and not self._full.is_set():
            self._full.set()
        # Messages now wait in the buffer instead of being handled one by one, so the
        # pull loop is woken here once a request has been used up (and there is room).
        if (
            self._credits <= self._pull_due_at
            and not self._wake.is_set()
            and self._room() >= self._refill_at
        ):
            self._wake.set()

    def _note_high_water(self) -> None:
        # Held messages only grow between handler returns, so sampling at each cut and
        # just before each handler's messages are released gives the exact maximum.
        self._high_water = max(self._high_water, len(self._ready) + self._busy)

    async def _work(self) -> None:
        ready = self._ready
        while True:
            if not ready:
                self._opened_at = None
                if self._stopping:
                    return
                self._has_work.clear()
                await self._has_work.wait()
                continue
            now = time.monotonic()
            if self._opened_at is None:
                self._opened_at = now
            if len(ready) < self._max_batch and not self._stopping:
                left_s = self._opened_at + self._max_wait_s - now
                if left_s > 0:
                    self._full.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(left_s):
                            await self._full.wait()
                    continue
            self._note_high_water()
            batch = [ready.popleft() for _ in range(min(len(ready), self._max_batch))]
            self._handling_since = self._opened_at
            self._opened_at = now if ready else None  # the rest waited at most since now
            self._busy = len(batch)
            self._stats.in_flight = self._busy + len(ready)
            try:
                await self._process_batch(batch)
            finally:
                self._note_high_water()
                self._busy = 0
                self._handling_since = None
                self._stats.in_flight = len(ready)
                if not self._wake.is_set():
                    self._wake.set()

    async def _finish(self, workers: list[asyncio.Task[None]]) -> None:
        """Hand what is buffered to the handler in final batches, then end the worker."""
        self._stopping = True
        self._has_work.set()
        self._full.set()
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            self._stats.in_flight = 0

    # -- handling ------------------------------------------------------------------------
    async def _process_batch(self, batch: list[Msg]) -> None:
        kept: list[Msg] = []
        messages: list[Message] = []
        for msg in batch:
            try:
                stream, consumer, delivered, sseq, cseq, ts_ns, pending = parse_ack_subject(
                    msg.reply
                )
            except BadInputError:
                log.exception("consumer %s: unreadable delivery; left to redeliver", self._name)
                continue
            headers = msg.headers or {}
            kept.append(msg)
            messages.append(
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
        if not messages:
            return
        started = time.perf_counter()
        try:
            rejected = await self._batch_handler(messages)
        except Exception as exc:  # noqa: BLE001 - every handler failure is settled below
            self._stats.handler_errors += 1
            await self._on_batch_error(list(zip(kept, messages, strict=True)), exc)
            return
        self._stats.handler_latency.observe(time.perf_counter() - started)
        if not rejected:
            await self._ack_all(kept)
            return
        refused = {id(item.message): item.error for item in rejected}
        accepted: list[Msg] = []
        for msg, message in zip(kept, messages, strict=True):
            error = refused.get(id(message))
            if error is None:
                accepted.append(msg)
            else:
                await self._reject(msg, message, error)
        await self._ack_all(accepted)

    async def _ack_all(self, batch: list[Msg]) -> None:
        """``+ACK`` each message; one failure stops the rest (they are redelivered)."""
        publish = self._bus.nc.publish
        acked = 0
        try:
            for msg in batch:
                await publish(msg.reply, _ACK)
                acked += 1
        except (nats.errors.Error, OSError) as exc:
            log.warning(
                "consumer %s: could not ack %d message(s): %s; they will be redelivered",
                self._name,
                len(batch) - acked,
                exc,
            )
        self._stats.acked += acked

    async def _reject(self, msg: Msg, message: Message, error: Exception) -> None:
        try:
            await self._dead_letter(msg, message, error)
        except SsmdError as dlq_error:
            delay_s = self._backoff.delay_s(max(1, message.num_delivered))
            log.error(
                "consumer %s: dead-lettering seq %d failed (%s); naked instead",
                self._name,
                message.stream_seq,
                dlq_error,
            )
            await self._settle(msg.reply, b'-NAK {"delay": %d}' % round(delay_s * 1e9))
            self._stats.naked += 1
        else:
            await self._settle(msg.reply, _TERM)
            self._stats.dead_lettered += 1

    async def _on_batch_error(self, pairs: list[tuple[Msg, Message]], exc: Exception) -> None:
        max_deliver = self._spec.max_deliver
        permanent = isinstance(exc, PermanentError)
        deliveries = max(message.num_delivered for _, message in pairs)
        delay_s = self._backoff.delay_s(max(1, deliveries))
        log.warning(
            "consumer %s: batch handler failed on %d message(s) (seq %d..%d): %s: %s; %s",
            self._name,
            len(pairs),
            pairs[0][1].stream_seq,
            pairs[-1][1].stream_seq,
            type(exc).__name__,
            exc,
            "dead-lettering them" if permanent else f"retrying in {delay_s:.2f}s",
        )
        nak = b'-NAK {"delay": %d}' % round(delay_s * 1e9)
        naked = 0
        for msg, message in pairs:
            exhausted = max_deliver > 0 and message.num_delivered >= max_deliver
            if permanent or exhausted:
                await self._reject(msg, message, exc)
            else:
                await self._settle(msg.reply, nak)
                naked += 1
        self._stats.naked += naked

    @property
    def _name(self) -> str:
        return self._spec.durable
