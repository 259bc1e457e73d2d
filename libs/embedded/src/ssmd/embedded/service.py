"""`ServiceProcess`: an ssmd service (``python -m ssmd.<name>``) run as a subprocess.

Used by system tests (SIGKILL a connector mid-stream, restart it) and by `ssmd up`. The
service gets its settings as ``SSMD_*`` environment variables, its admin port is chosen here
(``SSMD_RUNTIME_ADMIN_PORT``) and kept across restarts, and it counts as started once its
``/healthz`` answers 200 (``/readyz`` with ``wait_ready=True``).
"""

from __future__ import annotations

import http.client
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ssmd.embedded.process import ServerProcess


class ServiceProcess(ServerProcess):
    """One ssmd service process with its admin server on a loopback port."""

    def __init__(
        self,
        module: str,
        data_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        admin_port: int | None = None,
        wait_ready: bool = False,
        name: str | None = None,
        startup_timeout_s: float = 60.0,
        stop_timeout_s: float = 30.0,
        die_with_parent: bool = True,
    ) -> None:
        super().__init__(
            data_dir,
            admin_port,
            startup_timeout_s=startup_timeout_s,
            stop_timeout_s=stop_timeout_s,
            die_with_parent=die_with_parent,
        )
        self.module = module
        self.name = name or module.rsplit(".", 1)[-1]  # type: ignore[misc]
        self.wait_ready = wait_ready
        self._env = dict(env or {})

    @property
    def admin_url(self) -> str:
        """Base URL of /healthz, /readyz and /metrics."""
        return f"http://{self.host}:{self.port}"

    @property
    def returncode(self) -> int | None:
        """Exit status once the process has ended (None while it runs)."""
        return None if self._proc is None else self._proc.poll()

    def set_env(self, **values: str) -> None:
        """Change environment variables for the next (re)start."""
        self._env.update(values)

    def _command(self) -> list[str]:
        return [sys.executable, "-m", self.module]

    def _popen_options(self) -> dict[str, Any]:
        env = {**os.environ, **self._env}
        env["SSMD_RUNTIME_ADMIN_PORT"] = str(self.port)
        env.setdefault("SSMD_RUNTIME_ADMIN_HOST", self.host)
        env.setdefault("PYTHONUNBUFFERED", "1")
        return {"env": env}

    def _is_ready(self) -> bool:
        path = "/readyz" if self.wait_ready else "/healthz"
        connection = http.client.HTTPConnection(self.host, self.port, timeout=1.0)
        try:
            connection.request("GET", path)
            return connection.getresponse().status == http.client.OK
        except OSError:
            return False
        finally:
            connection.close()
