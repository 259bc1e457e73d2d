"""`HttpServer`: uvicorn serving an ASGI app as one task of an `ssmd.core.runtime.Service`.

The socket is bound when the server is built, so port 0 resolves to a real port before the
service starts (tests and `ssmd up` read it from `port`). Signals belong to the Service:
uvicorn's own handlers are disabled, and when the Service drains (SIGTERM) it cancels this
task, which asks uvicorn to stop accepting, finish the requests in flight (at most
``graceful_timeout_s``) and close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

log = logging.getLogger(__name__)


def listening_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A bound, listening TCP socket, made with ``proto=IPPROTO_TCP`` on purpose.

    asyncio sets TCP_NODELAY on accepted connections only when the socket says it is TCP;
    `socket.create_server` leaves ``proto`` 0, and then a small answer written as headers
    plus body waits ~40 ms for the client's delayed ACK (Nagle).
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class _ServiceOwnedSignals(uvicorn.Server):
    """uvicorn without its signal handlers: the Service owns SIGTERM and SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    """One uvicorn server on a socket bound at construction."""

    def __init__(
        self, app: ASGIApp, *, host: str, port: int, graceful_timeout_s: float = 10.0
    ) -> None:
        self._socket = listening_socket(host, port)
        self.host = host
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=max(1, round(graceful_timeout_s)),
        )
        self._server = _ServiceOwnedSignals(config)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def serve(self) -> None:
        """Serve until cancelled, then shut down gracefully (a Service task)."""
        serving = asyncio.ensure_future(self._server.serve(sockets=[self._socket]))
        log.info("HTTP API listening", extra={"url": self.url})
        try:
            await asyncio.shield(serving)
        except asyncio.CancelledError:
            self._server.should_exit = True
            await serving
            raise

    def close(self) -> None:
        """Release the socket if the server never ran."""
        self._socket.close()
