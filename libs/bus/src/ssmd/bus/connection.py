"""`connect()` and `Bus`: one NATS connection with JetStream, owned by one service.

The connection reconnects forever after it was first established, with capped, jittered
backoff (`ssmd.core.retry.Backoff` drives nats-py's ``reconnect_to_server_handler``), and
logs and counts every disconnect, reconnect and error. Publishers and consumers register
a reconnect listener to re-arm what a new connection does not carry over (pull requests).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from nats.aio.client import Client as NatsClient
from nats.aio.client import Server
from nats.js import JetStreamContext
from prometheus_client import CollectorRegistry

from ssmd.bus.errors import nats_errors
from ssmd.bus.metrics import BusCollector, bus_collector
from ssmd.bus.settings import BusSettings
from ssmd.core.errors import SsmdError, UnavailableError
from ssmd.core.retry import Backoff

log = logging.getLogger(__name__)

# Spacing of the attempts of the *first* connect (nats-py takes whole seconds here);
# reconnects after that use the jittered backoff from the settings.
_FIRST_CONNECT_RETRY_WAIT_S = 1

ReconnectListener = Callable[[], None]


class Bus:
    """A connected NATS client with its JetStream context; build it with `connect()`."""

    def __init__(self, settings: BusSettings, metrics: BusCollector) -> None:
        self.settings = settings
        self.metrics = metrics
        self._nc = NatsClient()
        self._js: JetStreamContext | None = None
        self._listeners: list[ReconnectListener] = []
        self._backoff = Backoff(
            initial_s=settings.reconnect_initial_s,
            max_s=max(settings.reconnect_max_s, settings.reconnect_initial_s),
            jitter=settings.reconnect_jitter,
        )
        self._closed = False

    # -- public --------------------------------------------------------------------------
    @property
    def nc(self) -> NatsClient:
        """The nats-py client, for code inside ssmd.bus (nothing else imports nats)."""
        return self._nc

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise UnavailableError("the bus is not connected yet")
        return self._js

    @property
    def is_connected(self) -> bool:
        return self._nc.is_connected

    @property
    def is_closed(self) -> bool:
        return self._closed or self._nc.is_closed

    async def ready(self) -> bool | str:
        """Readiness for /readyz: True, or why not (disconnected, JetStream not answering)."""
        if self.is_closed:
            return "NATS connection closed"
        if not self._nc.is_connected:
            return "NATS disconnected (reconnecting)"
        try:
            with nats_errors("JetStream account info"):
                await self.js.account_info()
        except SsmdError as exc:
            return f"JetStream not available: {exc}"
        return True

    def add_reconnect_listener(self, listener: ReconnectListener) -> Callable[[], None]:
        """Call `listener` after every reconnect; returns a function that removes it."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    async def drain(self) -> None:
        """Let subscriptions finish what they received, flush publishes, then close."""
        if self.is_closed:
            return
        self._closed = True
        if not self._nc.is_connected:
            await self._nc.close()
            return
        with nats_errors("drain NATS connection"):
            await self._nc.drain()

    async def close(self) -> None:
        """Close now; unflushed publishes are lost (use a Publisher's flush() first)."""
        self._closed = True
        if not self._nc.is_closed:
            await self._nc.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- connection life -----------------------------------------------------------------
    async def _connect(self) -> None:
        s = self.settings
        options: dict[str, Any] = {
            "servers": list(s.urls),
            "name": s.name,
            "connect_timeout": s.connect_timeout_s,
            "reconnect_time_wait": _FIRST_CONNECT_RETRY_WAIT_S,
            "max_reconnect_attempts": -1,  # never give up after the first connect
            "reconnect_to_server_handler": self._choose_server,
            "ping_interval": s.ping_interval_s,
            "max_outstanding_pings": s.max_outstanding_pings,
            "pending_size": s.reconnect_buffer_bytes,
            "drain_timeout": s.drain_timeout_s,
            "error_cb": self._on_error,
            "disconnected_cb": self._on_disconnected,
            "reconnected_cb": self._on_reconnected,
            "closed_cb": self._on_closed,
        }
        where = ", ".join(s.urls)
        try:
            async with asyncio.timeout(s.connect_deadline_s):
                with nats_errors(f"connect to NATS at {where}"):
                    await self._nc.connect(**options)
        except TimeoutError as exc:
            await self._nc.close()
            raise UnavailableError(
                f"could not connect to NATS at {where} within {s.connect_deadline_s}s"
            ) from exc
        except SsmdError:
            await self._nc.close()
            raise
        self._js = self._nc.jetstream(timeout=s.request_timeout_s)
        self.metrics.connection.count("connected")
        self.metrics.connection.connected += 1
        log.info(
            "connected to NATS",
            extra={"nats_url": _url_of(self._nc), "connection_name": s.name},
        )

    def _choose_server(
        self, servers: list[Server], _info: dict[str, Any]
    ) -> tuple[Server | None, float]:
        """Pick the least-failed server and wait a capped, jittered backoff before it."""
        server = min(servers, key=lambda candidate: candidate.reconnects)
        delay_s = self._backoff.delay_s(server.reconnects + 1)
        return server, delay_s

    async def _on_error(self, exc: Exception) -> None:
        self.metrics.connection.count("error")
        log.warning("NATS connection error: %s: %s", type(exc).__name__, exc)

    async def _on_disconnected(self) -> None:
        self.metrics.connection.count("disconnected")
        self.metrics.connection.connected = max(0, self.metrics.connection.connected - 1)
        if not self._closed:
            log.warning("disconnected from NATS; reconnecting")

    async def _on_reconnected(self) -> None:
        self.metrics.connection.count("reconnected")
        self.metrics.connection.connected += 1
        log.info("reconnected to NATS", extra={"nats_url": _url_of(self._nc)})
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:  # a listener's bug must not stop the others
                log.exception("reconnect listener failed")

    async def _on_closed(self) -> None:
        self.metrics.connection.count("closed")
        log.info("NATS connection closed")


def _url_of(nc: NatsClient) -> str:
    url = nc.connected_url
    return url.geturl() if url is not None else ""


async def connect(settings: BusSettings, *, registry: CollectorRegistry | None = None) -> Bus:
    """Connect to NATS, retrying until ``settings.connect_deadline_s``.

    Raises `UnavailableError` when no server answered in time, `PermanentError` when the
    server refused us (authorization). Metrics go to `registry` (default: the global one).
    """
    bus = Bus(settings, bus_collector(registry))
    await bus._connect()
    return bus
