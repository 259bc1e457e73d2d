"""The WebSocket session runner: connect, subscribe, read, and reconnect forever.

`SessionRunner.run` owns one socket at a time (aiohttp client) serving its share of the
shard's markets. Each socket gets a fresh `VenueStream` from the adapter, the pipeline
starts a new session (its markets' books and sequences reset; every socket after the
runner's first publishes a Gap per market), the subscribe requests go out (the upgrade
request carries the adapter's `connect_headers`, e.g. signed authentication), and every
frame is handed to `FramePipeline.handle` with its receive time.

Markets are added and dropped at runtime (`add_symbols`, `drop_symbols`): the open
session's stream sends the venue's requests for them, or, for venues that cannot change a
subscription in place, the socket restarts with the new set. A runner with no market
closes its socket and waits until it gets one.

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
        book_refresh_s: float = 0.0,
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
        self._book_refresh_ns = round(book_refresh_s * _NS_PER_S)
        self._refresh_index = 0
        self._connect_timeout_s = connect_timeout_s
        self._max_frame_bytes = max_frame_bytes
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._stream: VenueStream | None = None
        self._frames = 0  # frames of the current socket; the watchdog watches it move
        self._sessions = 0
        self._has_markets = asyncio.Event()
        if self._symbols:
            self._has_markets.set()
        self.problem: str | None = None  # why the venue refuses service (for /readyz)
        pipeline.set_session_hooks(restart=self._restart_now, problem=self._set_problem)

    # -- markets ----------------------------------------------------------------------------
    @property
    def pipeline(self) -> FramePipeline:
        return self._pipeline

    @property
    def symbols(self) -> list[str]:
        return list(self._symbols)

    async def add_symbols(self, symbols: Sequence[str]) -> None:
        """Serve `symbols` too (already-served ones are ignored)."""
        new = [symbol for symbol in symbols if symbol not in self._symbols]
        if not new:
            return
        self._symbols.extend(new)
        self._pipeline.set_markets([self._adapter.market_id(symbol) for symbol in self._symbols])
        self._has_markets.set()
        await self._change(new, add=True)

    async def drop_symbols(self, symbols: Sequence[str]) -> None:
        """Stop serving `symbols` (unknown ones are ignored)."""
        gone = [symbol for symbol in symbols if symbol in self._symbols]
        if not gone:
            return
        dropped = set(gone)
        self._symbols = [symbol for symbol in self._symbols if symbol not in dropped]
        self._pipeline.set_markets([self._adapter.market_id(symbol) for symbol in self._symbols])
        self._books.forget([self._adapter.market_id(symbol) for symbol in gone])
        if not self._symbols:
            self._has_markets.clear()
            await self.close()
            return
        await self._change(gone, add=False)

    async def _change(self, symbols: list[str], *, add: bool) -> None:
        stream, ws = self._stream, self._ws
        if stream is None or ws is None or ws.closed:
            return  # the next socket subscribes the current set
        requests = stream.add_markets(symbols) if add else stream.drop_markets(symbols)
        if requests is None:
            await self._restart_now("the market set changed")
            return
        for request in requests:
            await ws.send_str(request.decode())

    # -- state ------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._ws.closed

    @property
    def subscribed(self) -> bool:
        return self.connected and self._stream is not None and self._stream.subscribed

    def readiness(self) -> bool | str:
        """For /readyz: True once the venue confirmed the subscriptions, else why not."""
        if not self._symbols:
            return True  # nothing to serve: an idle runner is not a problem
        if self.problem is not None:
            return self.problem
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
            await self._has_markets.wait()
            self._frames = 0
            reason = "closed by the venue"
            try:
                await self._serve_one(continuation=self._sessions > 0)
            except aiohttp.WSServerHandshakeError as exc:
                reason = f"handshake refused: HTTP {exc.status} {exc.message}"
                if exc.status in (401, 403):
                    self.problem = f"the venue refused the connection: {reason}"
                    log.error(
                        "venue refused the WebSocket handshake (check the credentials)",
                        extra={"venue": self._adapter.venue, "status": exc.status},
                    )
            except _RETRYABLE as exc:
                reason = f"{type(exc).__name__}: {exc}"
            if not self._symbols:
                continue  # dropped every market: wait for new ones, no backoff
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
                headers=self._adapter.connect_headers(self.url),
                heartbeat=self._ping_interval_s,
                autoping=True,
                max_msg_size=self._max_frame_bytes,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=_CLOSE_TIMEOUT_S),
            )
        stream = self._adapter.new_stream(list(self._symbols), self._channels)
        self._ws, self._stream = ws, stream
        self.problem = None
        self._sessions += 1
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
        clock = self._clock
        seen = self._frames
        last_change_ns = clock.monotonic_ns()
        next_ping_ns = last_change_ns + round(self._ping_interval_s * _NS_PER_S)
        next_refresh_ns = last_change_ns + self._refresh_step_ns()
        while not ws.closed:
            await clock.sleep(self._tick_s)
            now_ns = clock.monotonic_ns()
            actions = stream.on_tick(clock.now_ns())
            if actions:
                await self._pipeline.apply(actions)
            if self._frames != seen:
                seen, last_change_ns = self._frames, now_ns
            elif now_ns - last_change_ns >= self._watchdog_ns:
                await self._restart(ws, f"no frame for {self._watchdog_ns / _NS_PER_S:g}s")
                return
            waiting_since = self._books.oldest_unsynced_ns(self._pipeline.markets)
            if waiting_since is not None and clock.now_ns() - waiting_since >= self._watchdog_ns:
                await self._restart(ws, "a book waited too long for its snapshot")
                return
            if self._book_refresh_ns and now_ns >= next_refresh_ns:
                next_refresh_ns = now_ns + self._refresh_step_ns()
                await self._refresh_next_book(stream)
            if now_ns >= next_ping_ns:
                next_ping_ns = now_ns + round(self._ping_interval_s * _NS_PER_S)
                ping = stream.keepalive_request()
                if ping is not None:
                    await ws.send_str(ping.decode())

    def _refresh_step_ns(self) -> int:
        """Spacing of book refreshes: every market once per ``book_refresh_s``."""
        return self._book_refresh_ns // max(1, len(self._symbols))

    async def _refresh_next_book(self, stream: VenueStream) -> None:
        """Re-fetch the next market's book (round robin); the pipeline compares it."""
        if not self._symbols:
            return
        symbol = self._symbols[self._refresh_index % len(self._symbols)]
        self._refresh_index += 1
        market = self._adapter.market_id(symbol)
        if not self._books.is_synced(market):
            return  # a snapshot is on its way anyway
        self._stats.book_refreshes += 1
        for request in stream.resnapshot_requests(market):
            await self._send(request)

    async def _restart(self, ws: aiohttp.ClientWebSocketResponse, why: str) -> None:
        self._stats.watchdog_restarts += 1
        log.warning("watchdog: %s; restarting the socket", why, extra={"url": self.url})
        await ws.close()

    def _set_problem(self, why: str) -> None:
        self.problem = why

    async def _restart_now(self, why: str) -> None:
        """Close the current socket (the loop reconnects) because the session asked."""
        ws = self._ws
        if ws is not None and not ws.closed:
            log.warning("restarting the socket: %s", why, extra={"url": self.url})
            await ws.close()
