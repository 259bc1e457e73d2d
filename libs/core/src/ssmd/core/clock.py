"""Injected time: every component asks a `Clock`, never `time` directly.

`LiveClock` reads the system clocks. `SimulatedClock` is advanced by hand (tests) or by a
backtest driver; its `sleep` parks the caller until simulated time reaches the deadline,
so code that waits behaves the same under both clocks.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol, runtime_checkable

NS_PER_S = 1_000_000_000


@runtime_checkable
class Clock(Protocol):
    """Wall time for timestamps, monotonic time for durations, and sleeping."""

    def now_ns(self) -> int:
        """Wall-clock time, Unix epoch nanoseconds (for `ts_recv_ns` and the like)."""
        ...

    def monotonic_ns(self) -> int:
        """Monotonic nanoseconds, for measuring durations; never goes backwards."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""
        ...


class LiveClock:
    """The real clocks."""

    def now_ns(self) -> int:
        return time.time_ns()

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class SimulatedClock:
    """A clock that moves only when told to.

    `advance_ns` moves time forward and wakes every sleeper whose deadline has passed, in
    deadline order. Wall and monotonic time move together.
    """

    def __init__(self, start_ns: int = 0) -> None:
        if start_ns < 0:
            raise ValueError("start_ns must be >= 0")
        self._now_ns = start_ns
        self._sleepers: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now_ns(self) -> int:
        return self._now_ns

    def monotonic_ns(self) -> int:
        return self._now_ns

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        deadline = self._now_ns + round(seconds * NS_PER_S)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline, next(self._order), waiter))
        await waiter

    def advance_ns(self, delta_ns: int) -> None:
        """Move time forward by `delta_ns` and release due sleepers."""
        if delta_ns < 0:
            raise ValueError("a simulated clock never goes backwards")
        self.set_ns(self._now_ns + delta_ns)

    def advance(self, seconds: float) -> None:
        self.advance_ns(round(seconds * NS_PER_S))

    def set_ns(self, now_ns: int) -> None:
        """Jump to `now_ns` (>= now) and release due sleepers."""
        if now_ns < self._now_ns:
            raise ValueError("a simulated clock never goes backwards")
        self._now_ns = now_ns
        while self._sleepers and self._sleepers[0][0] <= now_ns:
            _, _, waiter = heapq.heappop(self._sleepers)
            if not waiter.done():
                waiter.set_result(None)

    @property
    def pending_sleepers(self) -> int:
        return sum(1 for _, _, waiter in self._sleepers if not waiter.done())
