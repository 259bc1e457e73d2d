"""Following the secmaster: which markets to serve, from the ``SECMASTER`` change stream.

`SecmasterFollower` reads ``ref.<venue>.>`` with an ordered tail that starts at the last
record of every subject (the current universe) and then follows new records. Each
`ReferenceRecord` carries the whole market after a change, with a per-market `version`; the
follower keeps the newest version of each market, asks the `MarketSelector` whether it
should be served, and batches the answers (a fraction of a second) into `add_markets` /
`drop_markets` calls on the connector, which keep only this shard's markets. So a start-up
with 50k records is a handful of calls, not 50k subscribe commands.

A record older than one already seen (a re-delivery, or the several subjects a market has
been published on) changes nothing. A record that cannot be decoded is counted and skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final

from ssmd.bus import Bus, Message, OrderedTail, TailStart
from ssmd.contracts.events import ContractError
from ssmd.contracts.reference import ReferenceRecord, decode_reference
from ssmd.contracts.subjects import SECMASTER_STREAM, ref_filter

log = logging.getLogger(__name__)

MarketsFn = Callable[[Sequence[str]], Awaitable[object]]
_BATCH_S: Final = 0.2


@dataclass(frozen=True, slots=True)
class MarketSelector:
    """Which markets a connector serves: statuses, and series, categories or symbols."""

    statuses: frozenset[str]
    series: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    symbols: frozenset[str] = frozenset()

    def wants(self, record: ReferenceRecord) -> bool:
        if record.change == "removed" or record.status not in self.statuses:
            return False
        if not (self.series or self.categories or self.symbols):
            return True
        return (
            record.symbol in self.symbols
            or (record.series is not None and record.series in self.series)
            or (record.category is not None and record.category in self.categories)
        )


class SecmasterFollower:
    """Adds and drops a connector's markets as the secmaster's records arrive."""

    def __init__(
        self,
        bus: Bus,
        *,
        venue: str,
        selector: MarketSelector,
        add: MarketsFn,
        drop: MarketsFn,
    ) -> None:
        self._venue = venue
        self._selector = selector
        self._add, self._drop = add, drop
        self._versions: dict[str, int] = {}
        self._wanted: dict[str, bool] = {}  # symbol -> last decision
        self._pending: dict[str, bool] = {}  # symbol -> decision not yet applied
        self._changed = asyncio.Event()
        self.records = 0
        self.bad_records = 0
        self._tail = OrderedTail(
            bus,
            SECMASTER_STREAM.name,
            (ref_filter(venue),),
            self._on_message,
            start=TailStart.last_per_subject(),
            name=f"connector-{venue}-secmaster",
        )

    @property
    def serving(self) -> list[str]:
        """Symbols the secmaster says this connector should serve (before sharding)."""
        return [symbol for symbol, wanted in self._wanted.items() if wanted]

    async def _on_message(self, message: Message) -> None:
        try:
            record = decode_reference(message.data)
        except ContractError as exc:
            self.bad_records += 1
            log.warning("bad secmaster record on %s: %s", message.subject, exc)
            return
        self.records += 1
        if record.version <= self._versions.get(record.market, 0):
            return
        self._versions[record.market] = record.version
        wanted = self._selector.wants(record)
        if self._wanted.get(record.symbol) != wanted:
            self._wanted[record.symbol] = wanted
            self._pending[record.symbol] = wanted
            self._changed.set()

    async def run(self) -> None:
        """Tail the stream and apply the decisions in batches, until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._tail.run(), name=f"follow-{self._venue}-tail")
            group.create_task(self._apply_forever(), name=f"follow-{self._venue}-apply")

    async def _apply_forever(self) -> None:
        while True:
            await self._changed.wait()
            await asyncio.sleep(_BATCH_S)  # let a burst of records collect
            self._changed.clear()
            pending, self._pending = self._pending, {}
            adds = [symbol for symbol, wanted in pending.items() if wanted]
            drops = [symbol for symbol, wanted in pending.items() if not wanted]
            if drops:
                await self._drop(drops)
            if adds:
                await self._add(adds)
            log.info(
                "secmaster selection applied",
                extra={"venue": self._venue, "added": len(adds), "dropped": len(drops)},
            )

    def stop(self) -> None:
        self._tail.stop()
