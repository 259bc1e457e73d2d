"""Core-NATS request/reply: `RequestServer` answers requests on a subject, `request` asks.

For control messages that need an answer now and no history (a connector's "add these
markets"): they go over plain NATS subjects, not JetStream. A server's handler gets the
request body and returns the reply body; a handler that raises is answered with
``{"error": "<type>: <message>"}`` and logged, so a bad request never kills the server and
the caller always learns why. Requests are served one at a time, in arrival order (the
handlers change state; ordering keeps that simple to reason about).

The subscription is re-created by nats-py on reconnect, so a server keeps answering after
a NATS restart.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final

import msgspec
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from ssmd.bus.connection import Bus
from ssmd.bus.errors import nats_errors

log = logging.getLogger(__name__)

RequestHandler = Callable[[bytes], Awaitable[bytes]]
"""Request body in, reply body out."""
_ENCODER: Final = msgspec.json.Encoder()


class RequestServer:
    """Answers requests on one subject with a handler; see module doc."""

    def __init__(self, bus: Bus, subject: str, handler: RequestHandler) -> None:
        self._bus = bus
        self.subject = subject
        self._handler = handler
        self._subscription: Subscription | None = None
        self.served = 0
        self.failed = 0

    async def start(self) -> None:
        with nats_errors(f"subscribe {self.subject}"):
            self._subscription = await self._bus.nc.subscribe(self.subject, cb=self._on_request)

    async def _on_request(self, msg: Msg) -> None:
        try:
            reply = await self._handler(msg.data)
            self.served += 1
        except Exception as exc:  # any handler failure is answered, not fatal
            self.failed += 1
            log.warning("request on %s failed: %s", self.subject, exc, exc_info=exc)
            reply = _ENCODER.encode({"error": f"{type(exc).__name__}: {exc}"})
        if msg.reply:
            with nats_errors(f"reply on {self.subject}"):
                await msg.respond(reply)

    async def stop(self) -> None:
        if self._subscription is not None:
            subscription, self._subscription = self._subscription, None
            if not self._bus.nc.is_closed:
                with nats_errors(f"unsubscribe {self.subject}"):
                    await subscription.unsubscribe()


async def request(bus: Bus, subject: str, body: bytes, *, timeout_s: float = 5.0) -> bytes:
    """Send a request and return the reply body.

    Raises `TimeoutExpiredError` when the server did not answer in time and
    `UnavailableError` when nobody serves the subject or NATS is not reachable.
    """
    with nats_errors(f"request {subject} (is a server listening?)"):
        reply = await bus.nc.request(subject, body, timeout=timeout_s)
    data: bytes = reply.data
    return data
