"""`StatusFollower`: lifecycle changes from the bus (MarketStatus events) into the store.

Connectors publish each venue's lifecycle events on ``md.<env>.<venue>.status.<shard>.<market>``
(stream ``MD_<ENV>_<VENUE>``). For each synced venue one durable pull consumer
(``secmaster-status``, filtered on the status channel, from new messages on its first
creation: history is the REST sync's job) hands every event to `store.record_status` in its
own transaction. A status that differs becomes a ``status`` change with its outbox row, so it
reaches ``SECMASTER`` like a sync's change; a repeat (a redelivery, or the REST sync knew it
first) or an unknown market writes nothing. The ack follows the commit (at-least-once,
idempotent by content).

An event that breaks the contract is a `PermanentError`: it goes to
``dlq.<env>.secmaster.status`` with the reason. A venue whose stream does not exist yet (no
connector has run) is waited for with capped backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Final

from ssmd.bus import Bus, ConsumerSpec, DurableConsumer, Handler, Message, NotFoundError
from ssmd.contracts.events import ContractError, MarketStatus, decode_event
from ssmd.contracts.subjects import dead_letter_subject, durable_name, md_filter, md_stream
from ssmd.core.cancel import raise_if_cancelling
from ssmd.core.clock import Clock
from ssmd.core.errors import BadInputError, TemporaryError
from ssmd.core.retry import Backoff
from ssmd.db import Pool
from ssmd.secmaster.metrics import SecmasterMetrics
from ssmd.secmaster.store import record_status

log = logging.getLogger(__name__)

SOURCE: Final = "bus"
_WAIT_FOR_STREAM: Final = Backoff(initial_s=0.5, max_s=10.0)


class StatusFollower:
    """One status consumer per venue; `run()` runs them all until cancelled."""

    def __init__(
        self,
        pool: Pool,
        bus: Bus,
        *,
        env: str,
        venues: Sequence[str],
        clock: Clock,
        metrics: SecmasterMetrics,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._metrics = metrics
        self.consumers = {
            venue: DurableConsumer(
                bus,
                ConsumerSpec(
                    stream=md_stream(env, venue).name,
                    durable=durable_name("secmaster", "status"),
                    filter_subjects=(md_filter(env, venue, "status"),),
                    deliver_policy="new",
                    max_deliver=10,
                    description=f"secmaster: {venue} lifecycle events -> status changes",
                ),
                self._handler(venue),
                dead_letter_subject=dead_letter_subject(env, "secmaster.status"),
                concurrency=1,  # one venue's events in order
            )
            for venue in venues
        }

    def _handler(self, venue: str) -> Handler:
        async def handle(message: Message) -> None:
            await self.record(venue, message)

        return handle

    async def record(self, venue: str, message: Message) -> None:
        """Record one md status message (the consumer acks when this returns)."""
        try:
            event = decode_event(message.data)
        except ContractError as exc:
            raise BadInputError(f"{message.subject}: {exc}") from exc
        if not isinstance(event, MarketStatus):
            self._metrics.status_events.labels(venue, "ignored").inc()
            return
        async with self._pool.acquire() as conn, conn.transaction():
            change = await record_status(
                conn,
                event.market,
                event.status,
                event.result,
                source=SOURCE,
                venue_ts_ns=event.ts_event_ns,
                now_ns=self._clock.now_ns(),
            )
        outcome = "recorded" if change is not None else "unchanged"
        self._metrics.status_events.labels(venue, outcome).inc()
        if change is not None:
            log.info(
                "status of %s is now %s (from the bus)",
                event.market,
                event.status,
                extra={"market": event.market, "version": change.version},
            )

    async def run(self) -> None:
        """Consume every venue's status events until cancelled."""
        async with asyncio.TaskGroup() as group:
            for venue, consumer in self.consumers.items():
                group.create_task(_consume(venue, consumer), name=f"secmaster:status:{venue}")


async def _consume(venue: str, consumer: DurableConsumer) -> None:
    attempt = 0
    while True:
        try:
            await consumer.run()
        except (NotFoundError, TemporaryError) as exc:
            raise_if_cancelling()
            attempt += 1
            delay_s = _WAIT_FOR_STREAM.delay_s(attempt)
            level = logging.INFO if isinstance(exc, NotFoundError) else logging.WARNING
            log.log(level, "status of %s: %s; trying again in %.1fs", venue, exc, delay_s)
            await asyncio.sleep(delay_s)
        else:
            return
