"""Replay of recorded Kalshi data frames to clients, ``msg`` bytes unchanged.

`ReplaySource` loads a capture (ssmd JSONL or cryptofeed format; incoming frames only) and
keeps its data frames (``orderbook_snapshot``/``orderbook_delta``, ``trade``, ``ticker``,
``market_lifecycle_v2``, ``event_lifecycle``), each with the channel that carries it, its
market (or event) ticker, its raw ``msg`` and its ledger record's fields. The capture's
own replies and private frames are not replayed: the simulator answers commands itself.

`ConnectionReplay` plays a source to one connection, starting ``start_delay_s`` after its
first subscribe: every frame whose channel and market one of the connection's
subscriptions covers goes to that subscription with the connection's own ``sid`` and
``seq`` (re-numbered; ``ticker`` unsequenced), paced by the capture's timestamps divided by
``speed`` (0: as fast as the client reads), leaving out the capture lines in
``skip_lines``. It keeps each market's book as the capture stands at its cursor (every
snapshot and delta passed, left-out lines included), so an order book subscribe or
``get_snapshot`` mid-replay is answered with a snapshot of that book, in stream order.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Final

import msgspec

from ssmd.core.clock import Clock
from ssmd.simulator.connection import Outgoing
from ssmd.simulator.kalshi import frames
from ssmd.simulator.ledger import Record
from ssmd.simulator.replay_options import ReplayOptions
from ssmd.venues.capture import read_capture
from ssmd.venues.kalshi.config import LIFECYCLE, ORDERBOOK, TICKER, TRADE

if TYPE_CHECKING:
    from ssmd.simulator.kalshi.subscriptions import Session, Subscription

log = logging.getLogger(__name__)

CHANNEL_OF_TYPE: Final = {
    "orderbook_snapshot": ORDERBOOK,
    "orderbook_delta": ORDERBOOK,
    "trade": TRADE,
    "ticker": TICKER,
    "market_lifecycle_v2": LIFECYCLE,
    "event_lifecycle": LIFECYCLE,
}
_BATCH_MAX_FRAMES: Final = 256
_NS_PER_S: Final = 1_000_000_000


class _Envelope(msgspec.Struct, frozen=True):
    type: str
    msg: msgspec.Raw = msgspec.Raw(b"null")


class _Msg(msgspec.Struct, frozen=True):
    market_ticker: str | None = None
    market_id: str | None = None
    event_ticker: str | None = None
    trade_id: str | None = None
    yes_price_dollars: str | None = None
    count_fp: str | None = None
    price_dollars: str | None = None
    delta_fp: str | None = None
    side: str | None = None
    event_type: str | None = None
    yes_dollars_fp: list[tuple[str, str]] | None = None
    no_dollars_fp: list[tuple[str, str]] | None = None


_ENVELOPE: Final = msgspec.json.Decoder(_Envelope)
_MSG: Final = msgspec.json.Decoder(_Msg)


@dataclass(frozen=True, slots=True)
class ReplayFrame:
    line_no: int
    ts_ns: int
    type: str
    channel: str
    ticker: str
    body: bytes
    msg: _Msg


class ReplaySource:
    """The data frames of one capture file; see module doc."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.frames: list[ReplayFrame] = []
        self.products: set[str] = set()
        self.malformed_lines: list[int] = []
        self.skipped_control = 0
        for record in read_capture(path):
            if record.direction != "in":
                continue
            try:
                envelope = _ENVELOPE.decode(record.frame)
                msg = _MSG.decode(envelope.msg)
            except msgspec.DecodeError:
                self.malformed_lines.append(record.line_no)
                continue
            channel = CHANNEL_OF_TYPE.get(envelope.type)
            ticker = msg.market_ticker or msg.event_ticker
            if channel is None or ticker is None:
                self.skipped_control += 1
                continue
            if msg.market_ticker is not None:
                self.products.add(msg.market_ticker)
            self.frames.append(
                ReplayFrame(
                    record.line_no,
                    record.ts_ns,
                    envelope.type,
                    channel,
                    ticker,
                    bytes(envelope.msg),
                    msg,
                )
            )
        if self.malformed_lines:
            log.warning(
                "replay capture has malformed frames, left out",
                extra={"path": str(path), "lines": self.malformed_lines[:20]},
            )


def _record_fields(frame: ReplayFrame) -> tuple[str | None, str | None, str | None, str | None]:
    msg = frame.msg
    if frame.type == "trade":
        return msg.trade_id, msg.yes_price_dollars, msg.count_fp, None
    if frame.type == "orderbook_delta":
        return None, msg.price_dollars, msg.delta_fp, msg.side
    return None, None, None, msg.event_type


class _Book:
    """A market's bids as the capture stands: side -> price text -> count text."""

    def __init__(self, msg: _Msg) -> None:
        self.market_id = msg.market_id or ""
        self.sides: dict[str, dict[str, str]] = {
            "yes": dict(msg.yes_dollars_fp or []),
            "no": dict(msg.no_dollars_fp or []),
        }

    def apply(self, msg: _Msg) -> None:
        levels = self.sides.get(msg.side or "")
        if levels is None or msg.price_dollars is None or msg.delta_fp is None:
            return
        size = Decimal(levels.get(msg.price_dollars, "0")) + Decimal(msg.delta_fp)
        if size > 0:
            levels[msg.price_dollars] = f"{size:.2f}"
        else:
            levels.pop(msg.price_dollars, None)

    def body(self, ticker: str) -> bytes:
        def ordered(side: str) -> list[tuple[str, str]]:
            return sorted(self.sides[side].items(), key=lambda level: Decimal(level[0]))

        return frames.snapshot_body(ticker, self.market_id, ordered("yes"), ordered("no"))


class ConnectionReplay:
    """One connection's replay of a source; see module doc."""

    def __init__(
        self,
        session: Session,
        source: ReplaySource,
        options: ReplayOptions,
        *,
        clock: Clock,
        start_delay_s: float,
        wait_while_stalled: Callable[[], Awaitable[None]],
    ) -> None:
        self._session = session
        self._source = source
        self._options = options
        self._clock = clock
        self._start_delay_s = start_delay_s
        self._wait_while_stalled = wait_while_stalled
        self._books: dict[str, _Book] = {}
        self._batch: list[Outgoing] = []
        self._in_flight = False
        self._due: list[tuple[Subscription, list[str], int | None]] = []
        self._start_ns = 0
        self._first_ts_ns: int | None = None

    def snapshots(
        self, sub: Subscription, tickers: list[str], command_id: int | None
    ) -> list[Outgoing]:
        """Snapshots of the books known at the cursor, after what the cursor queued."""
        if self._in_flight:  # sent once the batch on its way is queued
            self._due.append((sub, tickers, command_id))
            return []
        pending, self._batch = self._batch, []
        return pending + self._build(sub, tickers, command_id)

    def _build(
        self, sub: Subscription, tickers: list[str], command_id: int | None
    ) -> list[Outgoing]:
        items: list[Outgoing] = []
        for ticker in tickers:
            book = self._books.get(ticker)
            if book is None or sub.sid not in self._session.subs:
                continue
            seq = sub.next_seq()
            body = book.body(ticker)
            frame = (
                sub.envelope.sequenced("orderbook_snapshot") % (seq, body)
                if command_id is None
                else sub.envelope.snapshot_reply(seq, command_id, body)
            )
            items.append((frame, Record("data", "orderbook_snapshot", ticker, seq)))
        return items

    async def run(self) -> None:
        """Send the source to the connection; ends at the end of the capture."""
        await self._clock.sleep(self._start_delay_s)
        self._start_ns = self._clock.monotonic_ns()
        for frame in self._source.frames:
            subs = self._subscribers(frame)
            if subs and frame.line_no not in self._options.skip_lines:
                await self._wait_until_due(frame.ts_ns)
                self._deliver(frame, self._subscribers(frame))  # still subscribed after the wait
            self._update_book(frame)
            if len(self._batch) >= _BATCH_MAX_FRAMES:
                await self._flush()
        await self._flush()

    def _subscribers(self, frame: ReplayFrame) -> list[Subscription]:
        return [
            sub
            for sub in self._session.subs.values()
            if sub.channel == frame.channel
            and (frame.channel == LIFECYCLE or sub.covers(frame.ticker))
        ]

    def _deliver(self, frame: ReplayFrame, subs: list[Subscription]) -> None:
        uid, price, qty, detail = _record_fields(frame)
        for sub in subs:
            if frame.type == "ticker":
                data = sub.envelope.unsequenced("ticker") % frame.body
                record = Record("data", frame.type, frame.ticker, None, uid, price, qty, detail)
            else:
                seq = sub.next_seq()
                data = sub.envelope.sequenced(frame.type) % (seq, frame.body)
                record = Record("data", frame.type, frame.ticker, seq, uid, price, qty, detail)
            self._batch.append((data, record))

    def _update_book(self, frame: ReplayFrame) -> None:
        if frame.type == "orderbook_snapshot":
            self._books[frame.ticker] = _Book(frame.msg)
        elif frame.type == "orderbook_delta":
            book = self._books.get(frame.ticker)
            if book is not None:
                book.apply(frame.msg)

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
                await self._session.conn.send_wait(batch)
            finally:
                self._in_flight = False
            due, self._due = self._due, []
            for sub, tickers, command_id in due:
                self._batch.extend(self._build(sub, tickers, command_id))
