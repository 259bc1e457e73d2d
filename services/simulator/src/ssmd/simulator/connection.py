"""One client WebSocket connection (any venue): subscriptions, bounded send queue, writer.

Everything bound for a client goes through `send` (never blocks; a full queue marks the
client a slow consumer, whom the venue disconnects) or `send_wait` (replay: waits for
room, so a replay is paced by the client). The writer task drains the queue into the
socket, a batch per write, and records each frame in the ledger once written. The
connection owns its writer and its replay task and stops both in `stop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import WSCloseCode, web

from ssmd.core.clock import Clock
from ssmd.simulator.ledger import Ledger, Record
from ssmd.simulator.metrics import SimulatorMetrics

log = logging.getLogger(__name__)

Key = tuple[str, str]
"""A subscription: (feed or channel, product); venues with other keys keep their own."""
Outgoing = tuple[bytes, Record | list[Record]]
"""A frame and its ledger record(s), written once the frame is on the socket."""

_CLOSE_TIMEOUT_S = 2.0
_BATCHES_PER_WRITE = 64
_WRITE_BUFFER_HIGH_BYTES = 4 * 1024 * 1024
_DRAIN_POLL_S = 0.002
_HEADER_SHORT = struct.Struct("!BB")
_HEADER_16 = struct.Struct("!BBH")
_HEADER_64 = struct.Struct("!BBQ")
_FIN_TEXT = 0x81  # FIN bit + opcode 1 (text)
_LEN_16, _LEN_64 = 126, 127


def text_frames(payloads: list[bytes]) -> bytes:
    """Server-to-client WebSocket text frames (RFC 6455 5.2: unmasked), concatenated.

    The writer sends a whole batch with one ``transport.write``: aiohttp's ``send_frame``
    costs a system call per frame, which caps a process well below the 100k frames/s the
    benchmarks need. Frames are complete, so aiohttp's own writes (pong, close) can only
    fall between them.
    """
    parts: list[bytes] = []
    append = parts.append
    for payload in payloads:
        size = len(payload)
        if size < _LEN_16:
            append(_HEADER_SHORT.pack(_FIN_TEXT, size))
        elif size < 1 << 16:
            append(_HEADER_16.pack(_FIN_TEXT, _LEN_16, size))
        else:
            append(_HEADER_64.pack(_FIN_TEXT, _LEN_64, size))
        append(payload)
    return b"".join(parts)


class Connection:
    """A connected client; see module doc."""

    def __init__(
        self,
        connection_id: int,
        ws: web.WebSocketResponse,
        request: web.Request,
        *,
        queue_max_batches: int,
        ledger: Ledger,
        clock: Clock,
        metrics: SimulatorMetrics,
    ) -> None:
        self.id = connection_id
        self.ws = ws
        self._request = request
        self.subscriptions: set[Key] = set()
        self.replay_skip_book: dict[str, int] = {}
        self.slow = False
        self._queue: asyncio.Queue[list[Outgoing]] = asyncio.Queue(queue_max_batches)
        self._ledger = ledger
        self._clock = clock
        self._metrics = metrics
        self._writer: asyncio.Task[None] | None = None
        self._replay: asyncio.Task[None] | None = None

    # -- sending --------------------------------------------------------------------------
    def send(self, batch: list[Outgoing]) -> bool:
        """Queue frames; False (and the client marked slow) if its queue is full."""
        if self.slow:
            return False
        try:
            self._queue.put_nowait(batch)
        except asyncio.QueueFull:
            self.slow = True
            return False
        return True

    def send_one(self, frame: bytes, record: Record) -> bool:
        return self.send([(frame, record)])

    async def send_wait(self, batch: list[Outgoing]) -> None:
        """Queue frames, waiting for room (the replay's backpressure)."""
        await self._queue.put(batch)

    async def _write(self) -> None:
        ws, ledger, clock, queue = self.ws, self._ledger, self._clock, self._queue
        transport = self._request.transport
        frames_sent = self._metrics.frames_sent
        while transport is not None:
            batches = [await queue.get()]
            while len(batches) < _BATCHES_PER_WRITE and not queue.empty():
                batches.append(queue.get_nowait())
            if ws.closed or transport.is_closing():
                return  # closing: no data frame may follow a close frame
            payloads: list[bytes] = []
            records: list[Record] = []
            for batch in batches:
                for frame, record in batch:
                    payloads.append(frame)
                    if type(record) is list:
                        records.extend(record)
                    else:
                        records.append(record)  # type: ignore[arg-type]
            transport.write(text_frames(payloads))
            ledger.record_many(clock.now_ns(), self.id, records)
            frames_sent.inc(len(payloads))
            # Backpressure: let the kernel take what is buffered before writing more.
            while transport.get_write_buffer_size() > _WRITE_BUFFER_HIGH_BYTES:
                if transport.is_closing():
                    return
                await asyncio.sleep(_DRAIN_POLL_S)

    # -- tasks ----------------------------------------------------------------------------
    def start_writer(self) -> None:
        self._writer = asyncio.create_task(self._write(), name=f"ws-writer-{self.id}")

    def start_replay(self, factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Start the connection's replay once (later calls are ignored)."""
        if self._replay is None:
            self._replay = asyncio.create_task(factory(), name=f"ws-replay-{self.id}")

    @property
    def replaying(self) -> bool:
        return self._replay is not None and not self._replay.done()

    async def stop(self) -> None:
        """Stop the writer and the replay; wait for both."""
        tasks = [t for t in (self._writer, self._replay) if t is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                log.error("connection %s task failed", self.id, exc_info=task.exception())

    # -- closing --------------------------------------------------------------------------
    def abort(self) -> None:
        """Drop the TCP connection without a close frame (a network failure)."""
        transport = self._request.transport
        if transport is not None:
            transport.abort()

    async def close(self, code: int = WSCloseCode.GOING_AWAY, message: bytes = b"") -> None:
        """Stop sending, then close with a close frame, bounded in time."""
        await self.stop()
        with contextlib.suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(_CLOSE_TIMEOUT_S):
                await self.ws.close(code=code, message=message)
