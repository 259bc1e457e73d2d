"""`OutboxRelay`: publishes the outbox to the ``SECMASTER`` stream, each row exactly once.

Every committed change wrote one ``outbox`` row in its own transaction (`ssmd.secmaster.store`).
The relay reads unsent rows in id order, publishes each as
``ref.<venue>.<change>.<market token>`` with ``Nats-Msg-Id`` = ``sm-<outbox id>``, waits for
every JetStream ack of the round, then stamps the rows' ``sent_at``.

Why each change is stored exactly once, in commit order per market:

* **One round in flight.** A round publishes rows pipelined, but never two rows of one market
  (it ends before the first repeated market), and the next round starts only after every
  ack of this one. So a market's version n+1 is sent only after version n is stored, even
  if a NATS restart loses some messages of a round and they are re-sent after others.
  (The store writes a market's outbox row after locking the market's row, so outbox id order
  is commit order per market.)
* **Crash between publish and mark.** Rows that were published but not marked can only
  belong to the last round, and whatever of it the stream stored is at the stream's end.
  On start (and after a failed round) the relay reads the stream's last message, takes the
  unsent rows up to its outbox id, reads that many messages back from the end, and marks
  the rows it finds there (same msg id *and* subject) as sent; only the others are
  published again. This holds past the stream's duplicate window too; within it, the msg
  id makes a re-send a no-op anyway.
* **One relay.** A session advisory lock in Postgres lets a single relay work at a time (a
  second replica waits); the lock dies with the connection of a killed process.

NATS or Postgres away: the round is retried with capped, jittered backoff until it
succeeds; nothing is skipped, so the relay stalls rather than reorders. New rows wake the
relay through ``LISTEN secmaster_outbox`` (``relay_idle_s`` polling is the fallback).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from ssmd.bus import Bus, Message, OrderedTail, Publisher, StreamSpec, TailStart
from ssmd.contracts.reference import reference_msg_id
from ssmd.contracts.subjects import SECMASTER_STREAM, ref_subject
from ssmd.core.cancel import raise_if_cancelling
from ssmd.core.clock import Clock, LiveClock
from ssmd.core.errors import SsmdError
from ssmd.core.retry import Backoff
from ssmd.db import Connection, Pool, Record, translate_errors
from ssmd.secmaster.metrics import SecmasterMetrics
from ssmd.secmaster.store import NOTIFY_CHANNEL

log = logging.getLogger(__name__)

RELAY_LOCK_KEY: Final = int.from_bytes(
    hashlib.sha256(b"ssmd.secmaster.relay").digest()[:8], "big", signed=True
)
_MSG_ID_PREFIX: Final = reference_msg_id(0)[:-1]  # "sm-"
_LOCK_POLL_S: Final = 1.0
_RETRY: Final = Backoff(initial_s=0.2, max_s=5.0)
_TAIL_POLL_S: Final = 0.005

DUPLICATE_WINDOW_S: Final = 600.0
"""``SECMASTER``'s duplicate window: far above the publisher's re-send window (the recovery
below does not depend on it)."""


def secmaster_stream_spec(**overrides: Any) -> StreamSpec:
    """``SECMASTER`` as the secmaster provisions it: file storage, kept forever (a reader
    that missed changes needs each market's last record), 10 min duplicate window."""
    values: dict[str, Any] = {
        "storage": "file",
        "max_age_s": 0.0,
        "duplicate_window_s": DUPLICATE_WINDOW_S,
        "description": "secmaster change records (ref.<venue>.<change>.<market>)",
        **overrides,
    }
    return StreamSpec(SECMASTER_STREAM.name, SECMASTER_STREAM.subjects, **values)


_FETCH_UNSENT: Final = (
    "SELECT id, venue, market_id, change, payload FROM outbox"
    " WHERE sent_at IS NULL ORDER BY id LIMIT $1"
)
_UNSENT_UP_TO: Final = (
    "SELECT id, venue, market_id, change, ''::bytea AS payload FROM outbox"
    " WHERE sent_at IS NULL AND id <= $1 ORDER BY id"
)
_MARK_SENT: Final = "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])"


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One outbox row: what to publish, where, under which msg id."""

    outbox_id: int
    venue: str
    market_id: str
    change: str
    payload: bytes

    @property
    def subject(self) -> str:
        return ref_subject(self.venue, self.change, self.market_id)

    @property
    def msg_id(self) -> str:
        return reference_msg_id(self.outbox_id)


def outbox_id_of(msg_id: str | None) -> int | None:
    """The outbox id inside a ``sm-<id>`` msg id (None for any other id)."""
    if msg_id is None or not msg_id.startswith(_MSG_ID_PREFIX):
        return None
    digits = msg_id[len(_MSG_ID_PREFIX) :]
    return int(digits) if digits.isascii() and digits.isdigit() else None


def one_round(rows: Sequence[OutboxRow]) -> list[OutboxRow]:
    """The longest prefix of `rows` (id order) with no market twice: one relay round."""
    seen: set[str] = set()
    chosen: list[OutboxRow] = []
    for row in rows:
        if row.market_id in seen:
            break
        seen.add(row.market_id)
        chosen.append(row)
    return chosen


class StreamEnd:
    """Reads the end of a stream through `OrderedTail` (ssmd.bus's only reader of history).

    `last_sequence` asks for the first message and adds the messages pending after it;
    `read_from` reads from a sequence up to the message after which none is pending. Meant
    for a stream nobody else writes to while it reads (the relay's own stream, paused).
    """

    def __init__(self, bus: Bus, stream: str, subjects: Sequence[str]) -> None:
        self._bus = bus
        self._stream = stream
        self._subjects = tuple(subjects)

    async def last_sequence(self) -> int:
        """The stream's last sequence (0 when it holds nothing)."""
        first = await self._read(TailStart.at_sequence(1), first_only=True)
        return first[0].stream_seq + first[0].num_pending if first else 0

    async def read_from(self, sequence: int) -> list[Message]:
        """Every message from `sequence` to the end of the stream, in order."""
        return await self._read(TailStart.at_sequence(max(1, sequence)), first_only=False)

    async def _read(self, start: TailStart, *, first_only: bool) -> list[Message]:
        got: list[Message] = []
        done = asyncio.Event()

        async def keep(message: Message) -> None:
            if done.is_set():
                return
            got.append(message)
            if first_only or message.num_pending == 0:
                done.set()
                tail.stop()

        tail = OrderedTail(
            self._bus,
            self._stream,
            self._subjects,
            keep,
            start=start,
            batch_size=1 if first_only else 512,
            name="secmaster_relay_probe",
        )
        task = asyncio.create_task(tail.run(), name="secmaster:relay-probe")
        try:
            while not done.is_set():
                stats = tail.stats
                # A consumer created with nothing pending, and nothing received: empty.
                if stats.state == "running" and stats.caught_up and stats.last_stream_seq == 0:
                    break
                if task.done():
                    task.result()  # raises what ended the tail
                    break
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_TAIL_POLL_S):
                        await done.wait()
        finally:
            tail.stop()
            await task
        return got


class OutboxRelay:
    """The outbox -> ``SECMASTER`` loop; see the module docstring. Run `run()` as a task."""

    def __init__(
        self,
        pool: Pool,
        bus: Bus,
        *,
        batch: int,
        idle_s: float,
        metrics: SecmasterMetrics,
        clock: Clock | None = None,
        stream: str = SECMASTER_STREAM.name,
        subjects: Sequence[str] = SECMASTER_STREAM.subjects,
    ) -> None:
        self._pool = pool
        self._bus = bus
        self._batch = batch
        self._idle_s = idle_s
        self._metrics = metrics
        self._clock = clock or LiveClock()
        self._end = StreamEnd(bus, stream, subjects)
        self._publisher = Publisher(bus, name="secmaster-relay")
        self._wake = asyncio.Event()
        self.state = "starting"
        self.last_outbox_id = 0  # highest id this relay published and marked
        self.recovered_rows = 0  # unsent rows found already in the stream

    async def run(self) -> None:
        """Relay until cancelled; database and NATS failures are waited out."""
        attempt = 0
        try:
            while True:
                try:
                    await self._session()
                except SsmdError as exc:
                    raise_if_cancelling()
                    attempt += 1
                    self.state = "retrying"
                    self._metrics.relay_retries.inc()
                    delay_s = _RETRY.delay_s(attempt)
                    log.warning("outbox relay: %s; retrying in %.2fs", exc, delay_s)
                    await self._clock.sleep(delay_s)
        finally:
            self.state = "stopped"
            await self._publisher.close()

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _session(self) -> None:
        """One database session: lock, listen, recover, then relay rounds forever."""
        with translate_errors("outbox relay"):
            async with self._pool.acquire() as conn:
                self.state = "waiting for the relay lock"
                while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK_KEY):
                    await self._clock.sleep(_LOCK_POLL_S)
                await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
                try:
                    self.state = "recovering"
                    await self._recover(conn)
                    self.state = "relaying"
                    while True:
                        await self._one_round(conn)
                finally:
                    if not conn.is_closed():
                        with contextlib.suppress(Exception):
                            await conn.remove_listener(NOTIFY_CHANNEL, self._on_notify)
                            await conn.execute("SELECT pg_advisory_unlock($1)", RELAY_LOCK_KEY)

    async def _one_round(self, conn: Connection) -> None:
        self._wake.clear()  # before reading: a commit during the read wakes the next wait
        rows = one_round(_rows(await conn.fetch(_FETCH_UNSENT, self._batch)))
        if not rows:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._idle_s):
                    await self._wake.wait()
            return
        await self._publish(rows)
        await conn.execute(_MARK_SENT, [row.outbox_id for row in rows])
        self._metrics.relay_batches.inc()
        self._metrics.relay_published.inc(len(rows))
        self.last_outbox_id = max(self.last_outbox_id, rows[-1].outbox_id)
        self._metrics.relay_last_outbox_id.set(self.last_outbox_id)

    async def _publish(self, rows: list[OutboxRow]) -> None:
        """Publish `rows` until the stream holds each of them once."""
        todo = rows
        attempt = 0
        while todo:
            try:
                for row in todo:
                    await self._publisher.publish(row.subject, row.payload, msg_id=row.msg_id)
                await self._publisher.flush()
            except SsmdError as exc:  # PublishError, or NATS unreachable
                raise_if_cancelling()
                attempt += 1
                self._metrics.relay_retries.inc()
                delay_s = _RETRY.delay_s(attempt)
                log.warning(
                    "outbox relay: round of %d rows failed (%s); checking the stream in %.2fs",
                    len(todo),
                    exc,
                    delay_s,
                )
                with contextlib.suppress(SsmdError):
                    await self._publisher.flush()  # settle what is still in flight
                await self._clock.sleep(delay_s)
                stored = await self._stored(todo)
                self._recovered(len(stored))
                todo = [row for row in todo if row.outbox_id not in stored]
            else:
                return

    async def _recover(self, conn: Connection) -> None:
        """Mark unsent rows that a previous relay published before it died."""
        last_seq = await self._end.last_sequence()
        if not last_seq:
            return
        tail = await self._end.read_from(last_seq)
        last_id = outbox_id_of(tail[-1].msg_id) if tail else None
        if last_id is None:
            return
        candidates = _rows(await conn.fetch(_UNSENT_UP_TO, last_id))
        if not candidates:
            return
        stored = await self._stored(candidates)
        if stored:
            await conn.execute(_MARK_SENT, sorted(stored))
            self._recovered(len(stored))
        log.info(
            "outbox relay recovered: %d of %d unsent rows up to outbox id %d were already "
            "in the stream",
            len(stored),
            len(candidates),
            last_id,
        )

    def _recovered(self, rows: int) -> None:
        self.recovered_rows += rows
        self._metrics.relay_recovered.inc(rows)

    async def _stored(self, candidates: Sequence[OutboxRow]) -> set[int]:
        """Outbox ids of `candidates` the stream holds (only its last len(candidates)
        messages can be any of them: see the module docstring)."""
        last_seq = await self._end.last_sequence()
        if not last_seq:
            return set()
        by_id = {row.outbox_id: row for row in candidates}
        found: set[int] = set()
        for message in await self._end.read_from(last_seq - len(candidates) + 1):
            outbox_id = outbox_id_of(message.msg_id)
            row = by_id.get(outbox_id) if outbox_id is not None else None
            if row is not None and row.subject == message.subject:
                found.add(row.outbox_id)
        return found


def _rows(records: Sequence[Record]) -> list[OutboxRow]:
    return [
        OutboxRow(
            outbox_id=int(r["id"]),
            venue=str(r["venue"]),
            market_id=str(r["market_id"]),
            change=str(r["change"]),
            payload=bytes(r["payload"]),
        )
        for r in records
    ]
