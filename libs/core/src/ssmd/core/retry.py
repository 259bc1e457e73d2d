"""The one retry helper: capped exponential backoff with full jitter.

Delay before attempt n (n >= 1 retries so far) is drawn uniformly from
``[(1 - jitter) * d, d]`` where ``d = min(max_s, initial_s * multiplier ** (n - 1))``.
The cap keeps a long outage from growing delays without bound; the jitter keeps many
clients that failed together from retrying together.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from ssmd.core.errors import should_retry as default_should_retry

T = TypeVar("T")

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential backoff with jitter; all times in seconds."""

    initial_s: float = 0.1
    max_s: float = 10.0
    multiplier: float = 2.0
    jitter: float = 0.5  # fraction of the delay that is randomized, 0 = none, 1 = full jitter
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.initial_s <= 0 or self.max_s < self.initial_s:
            raise ValueError("Backoff needs 0 < initial_s <= max_s")
        if self.multiplier < 1:
            raise ValueError("Backoff.multiplier must be >= 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("Backoff.jitter must be within [0, 1]")

    def delay_s(self, attempt: int) -> float:
        """Delay before retry number `attempt` (1-based)."""
        if attempt < 1:
            raise ValueError("attempt is 1-based")
        # Bound the exponent so huge attempt counts cannot overflow a float.
        exponent = min(attempt - 1, 64)
        ceiling = min(self.max_s, self.initial_s * self.multiplier**exponent)
        return self.rng.uniform((1 - self.jitter) * ceiling, ceiling)


async def retry_async(
    operation: Callable[[], Awaitable[T]],
    *,
    backoff: Backoff | None = None,
    max_attempts: int | None = 5,
    should_retry: Callable[[BaseException], bool] = default_should_retry,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    describe: str = "operation",
) -> T:
    """Run `operation` until it succeeds, retrying errors that `should_retry` accepts.

    `max_attempts=None` retries forever (for reconnect loops that a shutdown cancels).
    A non-retryable error, or the last attempt's error, propagates unchanged.
    Cancellation is never retried.
    """
    policy = backoff or Backoff()
    attempt = 0
    while True:
        attempt += 1
        try:
            return await operation()
        except Exception as exc:
            if not should_retry(exc) or (max_attempts is not None and attempt >= max_attempts):
                raise
            delay = policy.delay_s(attempt)
            log.warning(
                "%s failed (attempt %d): %s; retrying in %.3fs",
                describe,
                attempt,
                exc,
                delay,
                extra={"attempt": attempt, "delay_s": delay},
            )
            await sleep(delay)
