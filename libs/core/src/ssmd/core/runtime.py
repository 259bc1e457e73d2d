"""The service runtime: admin HTTP server, owned background tasks, graceful shutdown.

Every ssmd service builds a `Service`, registers its readiness checks, its long-running
tasks and its shutdown steps, and calls `run()`:

* ``GET /healthz``: liveness; 200 while the event loop answers and no owned task has died.
* ``GET /readyz``: readiness; runs every registered check (each with a timeout) and answers
  200 with each check's result, or 503 naming the checks that failed and why.
* ``GET /metrics``: Prometheus text from the service's registry.

SIGTERM or SIGINT starts a drain: tasks are asked to stop (cancelled), then shutdown steps
run in reverse order of registration (stop consumers, flush publishers, close connections),
each bounded by the drain timeout. `run()` returns 0 after a clean stop, 1 when a task
failed, so Kubernetes restarts a broken pod but not a drained one.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from ssmd.core.errors import ConfigError
from ssmd.core.logging import configure_logging
from ssmd.core.service_settings import RuntimeSettings
from ssmd.core.settings import SsmdSettings

log = logging.getLogger(__name__)

CheckResult = bool | str | None
"""A readiness check returns True/None when ready, False or a reason string when not."""
ReadinessCheck = Callable[[], Awaitable[CheckResult]]
ShutdownStep = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _Check:
    name: str
    check: ReadinessCheck


class Service:
    """One running ssmd service: its admin endpoints, tasks and shutdown path."""

    def __init__(
        self,
        name: str,
        *,
        admin_host: str = "127.0.0.1",
        admin_port: int = 0,
        registry: CollectorRegistry | None = None,
        check_timeout_s: float = 2.0,
        drain_timeout_s: float = 30.0,
    ) -> None:
        self.name = name
        self.registry = registry if registry is not None else CollectorRegistry()
        self._admin_host = admin_host
        self._admin_port = admin_port
        self._check_timeout_s = check_timeout_s
        self._drain_timeout_s = drain_timeout_s
        self._checks: list[_Check] = []
        self._task_factories: list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]] = []
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._shutdown_steps: list[tuple[str, ShutdownStep]] = []
        self._stop = asyncio.Event()
        self._failed: list[str] = []
        self._runner: web.AppRunner | None = None
        self.admin_port: int | None = None

    @classmethod
    def from_settings(cls, name: str, settings: RuntimeSettings) -> Service:
        """A service configured from the shared runtime settings (admin port, drain)."""
        return cls(
            name,
            admin_host=settings.admin_host,
            admin_port=settings.admin_port,
            drain_timeout_s=settings.drain_timeout_s,
        )

    # -- registration -------------------------------------------------------------------
    def add_check(self, name: str, check: ReadinessCheck) -> None:
        """Register a readiness check (a dependency: NATS connected, DB reachable...)."""
        self._checks.append(_Check(name, check))

    def add_task(self, name: str, factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Register a long-running task; if it ends with an error the service fails."""
        self._task_factories.append((name, factory))

    def on_shutdown(self, name: str, step: ShutdownStep) -> None:
        """Register a shutdown step; steps run in reverse order of registration."""
        self._shutdown_steps.append((name, step))

    def request_stop(self) -> None:
        """Begin a graceful stop, as SIGTERM does."""
        self._stop.set()

    @property
    def admin_url(self) -> str:
        if self.admin_port is None:
            raise RuntimeError("the admin server is not started")
        return f"http://{self._admin_host}:{self.admin_port}"

    # -- admin endpoints ----------------------------------------------------------------
    async def _healthz(self, _: web.Request) -> web.Response:
        if self._failed:
            return web.json_response({"status": "failed", "tasks": self._failed}, status=503)
        return web.json_response({"status": "ok", "service": self.name})

    async def readiness(self) -> tuple[bool, dict[str, str]]:
        """Run every check concurrently; (all ready, {check: "ok" | reason})."""

        async def one(check: _Check) -> tuple[str, str]:
            try:
                async with asyncio.timeout(self._check_timeout_s):
                    result = await check.check()
            except TimeoutError:
                return check.name, f"timed out after {self._check_timeout_s}s"
            except Exception as exc:  # noqa: BLE001 - any failure means "not ready", with why
                return check.name, f"{type(exc).__name__}: {exc}"
            if result is None or result is True:
                return check.name, "ok"
            return check.name, "not ready" if result is False else str(result)

        results = dict(await asyncio.gather(*(one(c) for c in self._checks)))
        if self._stop.is_set():
            results["shutdown"] = "draining"
        return all(v == "ok" for v in results.values()), results

    async def _readyz(self, _: web.Request) -> web.Response:
        ready, results = await self.readiness()
        return web.json_response(
            {"status": "ready" if ready else "not ready", "checks": results},
            status=200 if ready else 503,
        )

    async def _metrics(self, _: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    def admin_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        return app

    async def start_admin(self) -> None:
        """Start the admin server now (`run` does it too), e.g. to publish its URL first."""
        runner = web.AppRunner(self.admin_app(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self._admin_host, self._admin_port)
        await site.start()
        self._runner = runner
        server = site._server  # aiohttp exposes the bound port only here
        sockets = getattr(server, "sockets", None) or []
        self.admin_port = sockets[0].getsockname()[1] if sockets else self._admin_port
        log.info("admin server listening", extra={"admin_url": self.admin_url})

    # -- lifecycle ----------------------------------------------------------------------
    def _on_task_done(self, name: str, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("task %s failed", name, exc_info=exc)
            self._failed.append(name)
        elif not self._stop.is_set():
            log.info("task %s finished", name)
            if all(t.done() for t in self._tasks.values()):
                self._stop.set()
                return
        if self._failed:
            self._stop.set()

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._on_signal, signum)

    def _remove_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)

    def _on_signal(self, signum: int) -> None:
        log.info("received %s: draining", signal.Signals(signum).name)
        self._stop.set()

    async def run(self, *, install_signal_handlers: bool = True) -> int:
        """Serve until a stop is requested or a task fails; drain; return the exit code."""
        if install_signal_handlers:
            self._install_signal_handlers()
        try:
            if self._runner is None:
                await self.start_admin()
            for name, factory in self._task_factories:
                task = asyncio.create_task(factory(), name=f"{self.name}:{name}")
                task.add_done_callback(functools.partial(self._on_task_done, name))
                self._tasks[name] = task
            if not self._tasks:
                log.info("service %s has no tasks; serving admin endpoints only", self.name)
            await self._stop.wait()
            await self._drain()
        finally:
            if install_signal_handlers:
                self._remove_signal_handlers()
            if self._runner is not None:
                await self._runner.cleanup()
                self._runner = None
        return 1 if self._failed else 0

    async def _drain(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks.values(), timeout=self._drain_timeout_s)
        for name, step in reversed(self._shutdown_steps):
            try:
                async with asyncio.timeout(self._drain_timeout_s):
                    await step()
            except Exception:  # one failing step must not skip the others
                log.exception("shutdown step %s failed", name)
                self._failed.append(f"shutdown:{name}")
        log.info("service %s stopped", self.name, extra={"failed": self._failed})


EXIT_CONFIG_ERROR = 2


def start_logging(service: str, runtime: RuntimeSettings, **settings: SsmdSettings) -> None:
    """Configure logging from the runtime settings and log the effective settings once.

    Call it after every settings object has loaded (so a `ConfigError` is printed plainly),
    e.g. ``start_logging("archiver", runtime, settings=settings, bus=bus_settings)``;
    secrets are masked.
    """
    configure_logging(service, fmt=runtime.log_format, level=runtime.log_level)
    effective: dict[str, Any] = {name: value.redacted() for name, value in settings.items()}
    effective["runtime"] = runtime.redacted()
    logging.getLogger(f"ssmd.{service}").info("starting", extra=effective)


def run_main(main: Callable[[], Awaitable[int]]) -> None:
    """Run an async ``main`` and exit the process with its code (for ``__main__``).

    A `ConfigError` (bad settings) stops start-up with exit code 2 and a message that
    names each offending field, before the service does any work.
    """
    try:
        code = asyncio.run(_guard(main))
    except ConfigError as exc:
        if logging.getLogger().handlers:
            log.critical("configuration error: %s", exc, extra={"fields": list(exc.fields)})
        else:  # settings fail before logging is configured: say it once, plainly
            sys.stderr.write(f"configuration error: {exc}\n")
        code = EXIT_CONFIG_ERROR
    raise SystemExit(code)


async def _guard(main: Callable[[], Awaitable[int]]) -> int:
    with contextlib.suppress(asyncio.CancelledError):
        return await main()
    return 0
