"""Replay of recorded Polymarket market-channel traffic to clients, message bytes unchanged.

`ReplaySource` loads a capture (cryptofeed format or ssmd JSONL; incoming frames only) and
splits every frame (a JSON object, or an array of them) into its messages, keeping each
message's exact bytes, the assets it concerns (``asset_id``, the ``price_changes``' asset
ids, or ``assets_ids``), its market and its ledger record. Text frames that are not JSON
messages (``PONG``, ``NO NEW ASSETS``) are control traffic and are not replayed; messages
without ``event_type`` or frames that do not parse are left out and counted.

`ConnectionReplay` sends a source to one connection, starting ``start_delay_s`` after its
first subscribe, paced by the capture's timestamps divided by ``speed`` (``0``: as fast as
the client reads), leaving out the capture lines listed in ``skip_lines``. A connection
gets the messages of the assets it is subscribed to when the message is due; custom-feature
messages (``best_bid_ask``, ``new_market``, ``market_resolved``) only with the flag, and
``new_market``/``market_resolved`` whatever it subscribed to. A frame whose messages all
go to the client is sent byte for byte; an array of which only some do is sent as an array
of those messages' bytes. The capture's own ``book`` messages are the dumps: a subscribe
in replay mode gets no synthetic ``book``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import msgspec

from ssmd.simulator.ledger import Record
from ssmd.simulator.polymarket import frames
from ssmd.simulator.replay_options import ReplayOptions
from ssmd.venues.capture import read_capture
from ssmd.venues.polymarket.config import (
    CUSTOM_EVENT_TYPES,
    LAST_TRADE_PRICE,
    MARKET_RESOLVED,
    NEW_MARKET,
    PRICE_CHANGE,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ssmd.core.clock import Clock
    from ssmd.simulator.connection import Outgoing
    from ssmd.simulator.polymarket.exchange import Subscriber

log = logging.getLogger(__name__)

_BATCH_MAX_FRAMES: Final = 256
_NS_PER_S: Final = 1_000_000_000
_BROADCAST_TYPES: Final = frozenset({NEW_MARKET, MARKET_RESOLVED})


class _ChangeProbe(msgspec.Struct, frozen=True):
    asset_id: str
    price: str | None = None
    size: str | None = None


class _MessageProbe(msgspec.Struct, frozen=True):
    """The fields of a market-channel message that decide who gets it and its record."""

    event_type: str
    market: str | None = None
    asset_id: str | None = None
    assets_ids: list[str] | None = None
    price_changes: list[_ChangeProbe] | None = None
    price: str | None = None
    size: str | None = None
    transaction_hash: str | None = None


_PROBE: Final = msgspec.json.Decoder(_MessageProbe)
_ARRAY: Final = msgspec.json.Decoder(list[msgspec.Raw])
_CONTROL_TEXTS: Final = frozenset({b"PING", b"PONG", b"NO NEW ASSETS"})


@dataclass(frozen=True, slots=True)
class ReplayMessage:
    raw: bytes
    market: str | None
    assets: frozenset[str]
    event_type: str
    record: Record

    @property
    def custom(self) -> bool:
        return self.event_type in CUSTOM_EVENT_TYPES

    @property
    def broadcast(self) -> bool:
        return self.event_type in _BROADCAST_TYPES


@dataclass(frozen=True, slots=True)
class ReplayFrame:
    line_no: int
    ts_ns: int
    frame: bytes
    is_array: bool
    messages: tuple[ReplayMessage, ...]


def _message(raw: bytes) -> ReplayMessage:
    probe = _PROBE.decode(raw)
    assets: set[str] = set(probe.assets_ids or ())
    if probe.asset_id is not None:
        assets.add(probe.asset_id)
    first_change = None
    for change in probe.price_changes or ():
        assets.add(change.asset_id)
        first_change = first_change or change
    market, kind = probe.market, probe.event_type
    if kind == LAST_TRADE_PRICE:
        record = Record("data", kind, market, None, probe.transaction_hash, probe.price, probe.size)
    elif kind == PRICE_CHANGE and first_change is not None:
        record = Record("data", kind, market, price=first_change.price, qty=first_change.size)
    elif kind == PRICE_CHANGE:  # the pre-2025 shape: asset_id, price, size at the top
        record = Record("data", kind, market, price=probe.price, qty=probe.size)
    else:
        record = Record("data", kind, market)
    return ReplayMessage(raw, market, frozenset(assets), kind, record)


class ReplaySource:
    """The market-channel messages of one capture file; see module doc."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.frames: list[ReplayFrame] = []
        self.products: set[str] = set()
        self.market_of_asset: dict[str, str] = {}
        self.malformed_lines: list[int] = []
        self.skipped_control = 0
        for record in read_capture(path):
            if record.direction != "in":
                continue
            frame = record.frame.strip()
            if frame in _CONTROL_TEXTS or frame[:1] not in (b"{", b"["):
                self.skipped_control += 1
                continue
            try:
                is_array = frame[:1] == b"["
                raws = [bytes(raw) for raw in _ARRAY.decode(frame)] if is_array else [frame]
                messages = tuple(_message(raw) for raw in raws)
            except msgspec.DecodeError:  # also ValidationError: no event_type, wrong types
                self.malformed_lines.append(record.line_no)
                continue
            for message in messages:
                if message.market is None:
                    continue
                self.products.add(message.market)
                for asset in message.assets:
                    self.market_of_asset.setdefault(asset, message.market)
            self.frames.append(ReplayFrame(record.line_no, record.ts_ns, frame, is_array, messages))
        if self.malformed_lines:
            log.warning(
                "replay capture has malformed frames, left out",
                extra={"path": str(path), "lines": self.malformed_lines[:20]},
            )


class ConnectionReplay:
    """One connection's replay of a source; see module doc."""

    def __init__(
        self,
        subscriber: Subscriber,
        source: ReplaySource,
        options: ReplayOptions,
        *,
        clock: Clock,
        start_delay_s: float,
        wait_while_stalled: Callable[[], Awaitable[None]],
    ) -> None:
        self._subscriber = subscriber
        self._source = source
        self._options = options
        self._clock = clock
        self._start_delay_s = start_delay_s
        self._wait_while_stalled = wait_while_stalled
        self._batch: list[Outgoing] = []
        self._start_ns = 0
        self._first_ts_ns: int | None = None

    async def run(self) -> None:
        """Send the source to the connection; ends at the end of the capture."""
        await self._clock.sleep(self._start_delay_s)
        self._start_ns = self._clock.monotonic_ns()
        skip_lines = self._options.skip_lines
        for frame in self._source.frames:
            if frame.line_no in skip_lines or not self._wanted(frame):
                continue
            await self._wait_until_due(frame.ts_ns)
            outgoing = self._outgoing(frame)  # the subscriptions may have changed meanwhile
            if outgoing is not None:
                self._batch.append(outgoing)
                if len(self._batch) >= _BATCH_MAX_FRAMES:
                    await self._flush()
        await self._flush()

    def _wanted(self, frame: ReplayFrame) -> bool:
        return any(self._wants(message) for message in frame.messages)

    def _wants(self, message: ReplayMessage) -> bool:
        subscriber = self._subscriber
        if message.custom and not subscriber.custom:
            return False
        return message.broadcast or not message.assets.isdisjoint(subscriber.assets)

    def _outgoing(self, frame: ReplayFrame) -> Outgoing | None:
        skip = self._subscriber.conn.replay_skip_book
        wanted: list[ReplayMessage] = []
        for message in frame.messages:
            if not self._wants(message):
                continue
            market = message.market
            if message.event_type == PRICE_CHANGE and market is not None and skip.get(market):
                skip[market] -= 1
                continue
            wanted.append(message)
        if not wanted:
            return None
        records = [message.record for message in wanted]
        if len(wanted) == len(frame.messages):
            return frame.frame, records if frame.is_array else records[0]
        return frames.array([message.raw for message in wanted]), records

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
        if self._batch:
            batch, self._batch = self._batch, []
            await self._wait_while_stalled()
            await self._subscriber.conn.send_wait(batch)
