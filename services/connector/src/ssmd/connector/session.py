"""The WebSocket session runner: connect, subscribe, read, and reconnect forever.

`SessionRunner.run` owns one socket at a time (aiohttp client). Each socket gets a fresh
`VenueStream` from the adapter, the pipeline starts a new session (books and sequences
reset; every socket after the first publishes a Gap per market), the subscribe requests
go out, and every frame is handed to `FramePipeline.handle` with its receive time.

A socket ends when the venue closes it, the network fails, a ping goes unanswered (aiohttp
``heartbeat``), or the watchdog closes it: no frame for ``watchdog_s``, or a book that
waited ``watchdog_s`` for its re-snapshot. The runner then waits a capped, jittered
backoff (`ssmd.core.retry.Backoff`; the attempt count restarts after a socket that
delivered data) and connects again. Only cancellation stops it; errors that are not
about the network or the bus (bugs) propagate and fail the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Final

import aiohttp

from ssmd.connector.adapters._template import VenueAdapter, VenueStream
from ssmd.connector.books import BookKeeper
from ssmd.connector.metrics import ConnectorStats
from ssmd.connector.pipeline import FramePipeline
from ssmd.core.clock import Clock
from ssmd.core.errors import TemporaryError, UnavailableError
from ssmd.core.retry import Backoff

log = logging.getLogger(__name__)

_NS_PER_S: Final = 1_000_000_000
_MIN_TICK_S: Final = 0.05
_MAX_TICK_S: Final = 1.0
_CLOSE_TIMEOUT_S: Final = 5.0
_RETRYABLE: Final = (aiohttp.ClientError, OSError, TimeoutError, TemporaryError)


class SessionRunner:
    """Keeps one venue socket alive and fed into the pipeline; see module doc."""

    def __init__(
        self,
        *,
        url: str,
        adapter: VenueAdapter,
        symbols: Sequence[str],
        channels: Sequence[str],
        pipeline: FramePipeline,
        books: BookKeeper,
        stats: ConnectorStats,
        clock: Clock,
        http: aiohttp.ClientSession,
        backoff: Backoff,
        watchdog_s: float,
        ping_interval_s: float,
        connect_timeout_s: float,
        max_frame_bytes: int,
    ) -> None:
        self.url = url
        self._adapter = adapter
        self._symbols = list(symbols)
        self._channels = list(channels)
        self._pipeline = pipeline
        self._books = books
        self._stats = stats
        self._clock = clock
        self._http = http
        self._backoff = backoff
        self._watchdog_ns = round(watchdog_s * _NS_PER_S)
        self._tick_s = min(_MAX_TICK_S, max(_MIN_TICK_S, watchdog_s / 4))
        self._ping_interval_s = ping_interval_s
        self._connect_timeout_s = connect_timeout_s
        self._max_frame_bytes = max_frame_bytes
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._stream: VenueStream | None = None
        self._frames = 0  # frames of the current socket; the watchdog watches it move

    # -- state ------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._ws.closed

    @property
    def subscribed(self) -> bool:
        return self.connected and self._stream is not None and self._stream.subscribed

    def readiness(self) -> bool | str:
        """For /readyz: True once the venue confirmed the subscriptions, else why not."""
        if not self.connected or self._stream is None:
            return f"not connected to {self.url}"
        if not self._stream.subscribed:
            return self._stream.subscription_state()
        return True

    # -- the loop ---------------------------------------------------------------------------
    async def run(self) -> None:
        """Connect, serve, reconnect, until cancelled."""
        attempt = 0
        while True:
            self._frames = 0
            reason = "closed by the venue"
            try:
                await self._serve_one(continuation=self._stats.sessions > 0)
            except _RETRYABLE as exc:
                reason = f"{type(exc).__name__}: {exc}"
            attempt = 1 if self._frames else attempt + 1
            self._stats.reconnects += 1
            delay_s = self._backoff.delay_s(attempt)
            log.warning(
                "venue socket ended (%s); reconnecting in %.2fs",
                reason,
                delay_s,
                extra={"venue": self._adapter.venue, "attempt": attempt},
            )
            await self._clock.sleep(delay_s)

    async def _serve_one(self, *, continuation: bool) -> None:
        async with asyncio.timeout(self._connect_timeout_s):
            ws = await self._http.ws_connect(
                self.url,
                heartbeat=self._ping_interval_s,
                autoping=True,
                max_msg_size=self._max_frame_bytes,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=_CLOSE_TIMEOUT_S),
            )
        stream = self._adapter.new_stream(self._symbols, self._channels)
        self._ws, self._stream = ws, stream
        self._stats.sessions += 1
        monitor: asyncio.Task[None] | None = None
        try:
            await self._pipeline.begin_session(stream, self._send, continuation=continuation)
            for request in stream.subscribe_requests():
                await ws.send_str(request.decode())
            log.info(
                "venue socket open; subscribing",
                extra={"url": self.url, "markets": len(self._symbols), "feeds": self._channels},
            )
            monitor = asyncio.create_task(self._monitor(ws, stream), name="connector:watchdog")
            await self._read(ws)
        finally:
            if monitor is not None:
                monitor.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await monitor
            self._pipeline.end_session()
            self._ws = self._stream = None
            self._stats.subscribed = False
            await ws.close()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        handle = self._pipeline.handle
        now_ns = self._clock.now_ns
        text, binary = aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY
        async for message in ws:
            kind = message.type
            if kind is text:
                self._frames += 1
                await handle(message.data.encode(), now_ns())
            elif kind is binary:
                self._frames += 1
                await handle(message.data, now_ns())
            elif kind is aiohttp.WSMsgType.ERROR:
                raise UnavailableError(f"websocket error: {ws.exception()}")

    async def _send(self, request: bytes) -> None:
        ws = self._ws
        if ws is None or ws.closed:
            return  # the socket is going; its successor re-subscribes everything anyway
        await ws.send_str(request.decode())

    async def close(self) -> None:
        """Close the current socket (the loop, unless cancelled, reconnects)."""
        ws = self._ws
        if ws is not None and not ws.closed:
            await ws.close()

    # -- watchdog and keep-alive ------------------------------------------------------------
    async def _monitor(self, ws: aiohttp.ClientWebSocketResponse, stream: VenueStream) -> None:
        """Close a socket that went silent or left a book unsynced; send app keep-alives."""
        clock, stats = self._clock, self._stats
        seen = self._frames
        last_change_ns = clock.monotonic_ns()
        next_ping_ns = last_change_ns + round(self._ping_interval_s * _NS_PER_S)
        while not ws.closed:
            await clock.sleep(self._tick_s)
            now_ns = clock.monotonic_ns()
            stats.subscribed = stream.subscribed
            if self._frames != seen:
                seen, last_change_ns = self._frames, now_ns
            elif now_ns - last_change_ns >= self._watchdog_ns:
                await self._restart(ws, f"no frame for {self._watchdog_ns / _NS_PER_S:g}s")
                return
            waiting_since = self._books.oldest_unsynced_ns()
            if waiting_since is not None and clock.now_ns() - waiting_since >= self._watchdog_ns:
                await self._restart(ws, "a book waited too long for its snapshot")
                return
            if now_ns >= next_ping_ns:
                next_ping_ns = now_ns + round(self._ping_interval_s * _NS_PER_S)
                ping = stream.keepalive_request()
                if ping is not None:
                    await ws.send_str(ping.decode())

    async def _restart(self, ws: aiohttp.ClientWebSocketResponse, why: str) -> None:
        self._stats.watchdog_restarts += 1
        log.warning("watchdog: %s; restarting the socket", why, extra={"url": self.url})
        await ws.close()
