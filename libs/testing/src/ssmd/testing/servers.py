"""The server launchers, re-exported from `ssmd.embedded` for tests' convenience."""

from __future__ import annotations

from ssmd.embedded.servers import (
    NatsServer,
    PostgresServer,
    ServerError,
    ServerProcess,
    ValkeyServer,
    free_port,
)

__all__ = [
    "NatsServer",
    "PostgresServer",
    "ServerError",
    "ServerProcess",
    "ValkeyServer",
    "free_port",
]
