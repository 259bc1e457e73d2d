"""`raise_if_cancelling`: a cancellation a lower layer swallowed still ends the task."""

from __future__ import annotations

import asyncio

import pytest

from ssmd.core.cancel import raise_if_cancelling


async def test_a_swallowed_cancel_is_raised_again_at_the_next_check() -> None:
    checks: list[str] = []

    async def retry_loop() -> None:
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                checks.append("swallowed")  # what a buggy lower layer does
            raise_if_cancelling()
            checks.append("would retry")

    task = asyncio.create_task(retry_loop())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert checks == ["swallowed"]


async def test_no_cancel_no_raise() -> None:
    raise_if_cancelling()  # a task that was not asked to stop goes on
    assert asyncio.current_task() is not None
