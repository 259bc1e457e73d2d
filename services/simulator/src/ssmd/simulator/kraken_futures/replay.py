"""Replay of recorded Kraken Futures traffic to clients, frame bytes unchanged.

`ReplaySource` loads a capture (cryptofeed format or ssmd JSONL; incoming frames only) and
keeps its data frames, each keyed by the subscription that receives it (``book_snapshot``
and ``book`` go to ``book`` subscribers, and so on) and with its ledger records (taken from
the canonical parse, so seq, trade id, price and size are known). The capture's own control
frames (``info``, acks) are not replayed: the simulator answers the client's requests itself.

`ConnectionReplay` sends a source to one connection: after a short delay from its first
subscribe, every frame the connection is subscribed to, in capture order, paced by the
capture's timestamps divided by ``speed`` (``0`` = as fast as the client reads), leaving
out the capture lines listed in ``skip_lines`` (1-based line numbers of the file) for gap
tests. It also keeps the venue's state at its position in the capture (`ReplayState`, which
every book and trade frame passed updates, left-out lines included), so that a
(re)subscribe is answered as the venue answers it: with a ``book_snapshot`` (or
``trade_snapshot``) of that state, followed by the capture's next frames.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ssmd.contracts.events import BookDelta, BookSnapshot, Quote, Trade
from ssmd.core.clock import Clock
from ssmd.simulator.connection import Connection
from ssmd.simulator.kraken_futures.product_state import Key, Outgoing
from ssmd.simulator.kraken_futures.replay_state import (
    STATE_FEEDS,
    ReplayState,
    StateUpdate,
    decode_update,
)
from ssmd.simulator.ledger import Record
from ssmd.simulator.replay_options import ReplayOptions
from ssmd.venues.capture import read_capture
from ssmd.venues.errors import MalformedFrame
from ssmd.venues.kraken_futures.config import SUBSCRIPTION_OF_FEED
from ssmd.venues.kraken_futures.parse import KrakenFuturesParser, ParseResult

log = logging.getLogger(__name__)

_BATCH_MAX_FRAMES: Final = 256
_NS_PER_S: Final = 1_000_000_000


@dataclass(frozen=True, slots=True)
class ReplayFrame:
    line_no: int
    ts_ns: int
    frame: bytes
    key: Key
    records: Record | list[Record]
    update: StateUpdate | None  # what the frame changes in the venue's books or trades


def _records(result: ParseResult, feed: str, product: str) -> Record | list[Record]:
    records = []
    for event in result.events:
        if isinstance(event, BookDelta):
            change = event.changes[0]
            records.append(
                Record("data", feed, product, event.seq, None, change.price, change.size)
            )
        elif isinstance(event, Trade):
            records.append(
                Record("data", feed, product, event.seq, event.trade_id, event.price, event.size)
            )
        elif isinstance(event, BookSnapshot):
            records.append(Record("data", feed, product, event.seq))
        elif isinstance(event, Quote):
            records.append(Record("data", feed, product, price=event.last_price or event.bid_price))
    if not records:
        return Record("data", feed, product)
    return records[0] if len(records) == 1 else records


class ReplaySource:
    """The data frames of one capture file; see module doc."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.frames: list[ReplayFrame] = []
        self.products: set[str] = set()
        self.malformed_lines: list[int] = []
        self.skipped_control = 0
        parser = KrakenFuturesParser()
        for record in read_capture(path):
            if record.direction != "in":
                continue
            try:
                result = parser.parse(record.frame, record.ts_ns)
            except MalformedFrame:
                self.malformed_lines.append(record.line_no)
                continue
            feed, product = result.feed, result.product_id
            subscription = SUBSCRIPTION_OF_FEED.get(feed or "")
            if result.control is not None or subscription is None or product is None:
                self.skipped_control += 1
                continue
            product = product.upper()
            self.products.add(product)
            self.frames.append(
                ReplayFrame(
                    record.line_no,
                    record.ts_ns,
                    record.frame,
                    (subscription, product),
                    _records(result, feed or "", product),
                    decode_update(record.frame) if feed in STATE_FEEDS else None,
                )
            )
        if self.malformed_lines:
            log.warning(
                "replay capture has malformed frames, left out",
                extra={"path": str(path), "lines": self.malformed_lines[:20]},
            )


class ConnectionReplay:
    """One connection's replay of a source; see module doc.

    `run` is the cursor; `state` is the venue's state at the cursor, advanced by every book
    and trade frame it passes. What the client was sent always agrees with `state` except
    while a batch is on its way into the connection's queue (waiting out a stall or for
    room): a snapshot asked for then is built once that batch is queued, and follows it.
    """

    def __init__(
        self,
        conn: Connection,
        source: ReplaySource,
        options: ReplayOptions,
        *,
        clock: Clock,
        start_delay_s: float,
        wait_while_stalled: Callable[[], Awaitable[None]],
        trade_snapshot_size: int,
    ) -> None:
        self.state = ReplayState(trade_snapshot_size)
        self._conn = conn
        self._source = source
        self._options = options
        self._clock = clock
        self._start_delay_s = start_delay_s
        self._wait_while_stalled = wait_while_stalled
        self._batch: list[Outgoing] = []
        self._in_flight = False
        self._snapshots_due: dict[Key, None] = {}  # asked for while in flight, in order
        self._start_ns = 0
        self._first_ts_ns: int | None = None

    def subscribed(self, key: Key) -> list[Outgoing]:
        """The snapshot that follows the ack of a (re)subscribe to `key`, if it can go now.

        Empty when the state of `key` is unknown, or when the snapshot must wait behind a
        batch on its way to the client (it is then sent right after that batch).
        """
        if self._in_flight:
            self._snapshots_due[key] = None
            return []
        snapshot = self.state.snapshot(key)
        return [] if snapshot is None else [snapshot]

    async def run(self) -> None:
        """Send the source to the connection; ends at the end of the capture."""
        await self._clock.sleep(self._start_delay_s)
        self._start_ns = self._clock.monotonic_ns()
        subscriptions = self._conn.subscriptions
        for frame in self._source.frames:
            wanted = self._wanted(frame)
            if wanted:
                await self._wait_until_due(frame.ts_ns)
            # The venue's state moves on whether or not this client gets the frame.
            if frame.update is not None:
                self.state.apply(frame.key[1], frame.update)
            if wanted and frame.key in subscriptions:  # still, after the wait
                self._batch.append((frame.frame, frame.records))
                if len(self._batch) >= _BATCH_MAX_FRAMES:
                    await self._flush()
        await self._flush()

    def _wanted(self, frame: ReplayFrame) -> bool:
        """Whether the client is to get `frame` (not left out, subscribed, not skipped)."""
        if frame.line_no in self._options.skip_lines or frame.key not in self._conn.subscriptions:
            return False
        skip_book = self._conn.replay_skip_book
        product = frame.key[1]
        is_delta = isinstance(frame.records, Record) and frame.records.feed == "book"
        if is_delta and skip_book.get(product):
            skip_book[product] -= 1
            return False
        return True

    async def _wait_until_due(self, ts_ns: int) -> None:
        """Pace by the capture's clock from the first frame this client was sent."""
        speed = self._options.speed
        if self._first_ts_ns is None:
            self._first_ts_ns = ts_ns
        if speed <= 0:
            return
        due_ns = self._start_ns + int((ts_ns - self._first_ts_ns) / speed)
        wait_ns = due_ns - self._clock.monotonic_ns()
        if wait_ns > 0:
            await self._flush()
            await self._clock.sleep(wait_ns / _NS_PER_S)

    async def _flush(self) -> None:
        while self._batch:
            batch, self._batch = self._batch, []
            self._in_flight = True
            try:
                await self._wait_while_stalled()
                await self._conn.send_wait(batch)
            finally:
                self._in_flight = False
            for key in self._snapshots_due:
                snapshot = self.state.snapshot(key)
                if snapshot is not None and key in self._conn.subscriptions:
                    self._batch.append(snapshot)
            self._snapshots_due.clear()
