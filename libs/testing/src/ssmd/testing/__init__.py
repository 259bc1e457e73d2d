"""ssmd.testing: the pytest plugin that gives tests real servers.

The launchers live in `ssmd.embedded` (shared with the benchmarks and `ssmd up`);
`ssmd.testing.plugin` (loaded by pytest through the ``pytest11`` entry point) turns them into
fixtures and fails tests that leak asyncio tasks.
"""

from ssmd.testing.servers import (
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
