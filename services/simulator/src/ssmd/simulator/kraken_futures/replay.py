"""Replay of recorded Kraken Futures traffic to clients, frame bytes unchanged.

`ReplaySource` loads a capture (cryptofeed format or ssmd JSONL; incoming frames only) and
keeps its data frames, each keyed by the subscription that receives it (``book_snapshot``
and ``book`` go to ``book`` subscribers, and so on) and with its ledger records (taken from
the canonical parse, so seq, trade id, price and size are known). The capture's own control
frames (``info``, acks) are not replayed: the simulator answers the client's requests itself.

`replay_to` sends a source to one connection: after a short delay from its first subscribe,
every frame the connection is subscribed to, in capture order, paced by the capture's
timestamps divided by ``speed`` (``0`` = as fast as the client reads), leaving out the
capture lines listed in ``skip_lines`` (1-based line numbers of the file) for gap tests.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from ssmd.contracts.events import BookDelta, BookSnapshot, Quote, Trade
from ssmd.core.clock import Clock
from ssmd.simulator.kraken_futures.connection import Connection
from ssmd.simulator.kraken_futures.product_state import Key, Outgoing
from ssmd.simulator.ledger import Record
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


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """How the next replays run (changed through ``POST /control/replay``)."""

    speed: float = 1.0
    skip_lines: frozenset[int] = field(default_factory=frozenset)


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
                )
            )
        if self.malformed_lines:
            log.warning(
                "replay capture has malformed frames, left out",
                extra={"path": str(path), "lines": self.malformed_lines[:20]},
            )


async def replay_to(
    conn: Connection,
    source: ReplaySource,
    options: ReplayOptions,
    *,
    clock: Clock,
    start_delay_s: float,
    wait_while_stalled: Callable[[], Awaitable[None]],
) -> None:
    """Send `source` to `conn`; see module doc. Ends at the end of the capture."""
    await clock.sleep(start_delay_s)
    start_ns = clock.monotonic_ns()
    first_ts_ns: int | None = None
    batch: list[Outgoing] = []

    async def flush() -> None:
        nonlocal batch
        if batch:
            await wait_while_stalled()
            await conn.send_wait(batch)
            batch = []

    for frame in source.frames:
        if frame.line_no in options.skip_lines or frame.key not in conn.subscriptions:
            continue
        product = frame.key[1]
        is_delta = isinstance(frame.records, Record) and frame.records.feed == "book"
        if is_delta and conn.replay_skip_book.get(product):
            conn.replay_skip_book[product] -= 1
            continue
        if first_ts_ns is None:
            first_ts_ns = frame.ts_ns
        if options.speed > 0:
            due_ns = start_ns + int((frame.ts_ns - first_ts_ns) / options.speed)
            wait_ns = due_ns - clock.monotonic_ns()
            if wait_ns > 0:
                await flush()
                await clock.sleep(wait_ns / _NS_PER_S)
        batch.append((frame.frame, frame.records))
        if len(batch) >= _BATCH_MAX_FRAMES:
            await flush()
    await flush()
