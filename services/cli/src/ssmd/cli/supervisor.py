"""Supervision of the mesh's child processes for `ssmd up`.

Each child (an embedded server or an ssmd service) is started in order and watched. A child
that dies unexpectedly is restarted with capped, jittered backoff, up to a limit, after which
the whole mesh stops with an error. Stopping goes in reverse start order: services drain
(SIGTERM) before the servers they depend on go away. Every child runs in its own process
group with a parent-death signal, so nothing outlives `ssmd up`, even when it is killed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ssmd.core.retry import Backoff
from ssmd.embedded import ServerError, ServerProcess

log = logging.getLogger(__name__)


class MeshFailedError(RuntimeError):
    """A child kept crashing and could not be kept up."""


@dataclass
class Child:
    """One supervised process and its restart bookkeeping."""

    name: str
    process: ServerProcess
    max_restarts: int = 5
    restarts: int = 0
    next_restart_at: float | None = None
    backoff: Backoff = field(default_factory=lambda: Backoff(initial_s=0.5, max_s=10.0))


class Supervisor:
    """Starts children in order, restarts crashed ones, stops all in reverse order."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._children: list[Child] = []
        self._clock = clock

    @property
    def children(self) -> tuple[Child, ...]:
        return tuple(self._children)

    def start(self, name: str, process: ServerProcess, *, max_restarts: int = 5) -> Child:
        """Start `process` now (blocking until it is ready) and supervise it."""
        child = Child(name, process, max_restarts=max_restarts)
        log.info("starting %s", name)
        process.start()
        self._children.append(child)
        return child

    def poll(self) -> None:
        """Restart children that died; raise `MeshFailedError` when one keeps dying."""
        now = self._clock()
        for child in self._children:
            if child.process.is_running:
                continue
            if child.next_restart_at is None:
                child.restarts += 1
                if child.restarts > child.max_restarts:
                    raise MeshFailedError(
                        f"{child.name} died {child.restarts} times; giving up. "
                        f"Last log lines:\n{child.process.log_tail()}"
                    )
                delay = child.backoff.delay_s(child.restarts)
                child.next_restart_at = now + delay
                log.warning(
                    "%s exited unexpectedly; restart %d/%d in %.1fs",
                    child.name,
                    child.restarts,
                    child.max_restarts,
                    delay,
                )
            elif now >= child.next_restart_at:
                child.next_restart_at = None
                try:
                    child.process.start()
                except ServerError as exc:
                    log.error("%s failed to restart: %s", child.name, exc)

    def stop_all(self) -> list[str]:
        """Stop every child, newest first; returns the names that failed to stop cleanly."""
        failed = []
        for child in reversed(self._children):
            log.info("stopping %s", child.name)
            try:
                child.process.stop()
            except (ServerError, OSError) as exc:
                log.error("stopping %s failed: %s", child.name, exc)
                failed.append(child.name)
        self._children.clear()
        return failed
