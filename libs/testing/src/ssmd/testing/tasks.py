"""Finding asyncio tasks a test left running.

Every background task must have an owner that stops it (STYLE.md); a test that ends with
tasks still pending has leaked one. The plugin's guard calls `leaked_tasks` after the test
and its fixtures have torn down, cancels what it finds and fails the test naming each task.
"""

from __future__ import annotations

import asyncio
import contextlib

_CANCEL_GRACE_S = 1.0


def describe_task(task: asyncio.Task[object]) -> str:
    """``name: coroutine qualname (file:line)`` for a failure message."""
    coro = task.get_coro()
    qualname = getattr(coro, "__qualname__", repr(coro))
    frame = getattr(coro, "cr_frame", None)
    where = f" ({frame.f_code.co_filename}:{frame.f_lineno})" if frame is not None else ""
    return f"{task.get_name()}: {qualname}{where}"


async def leaked_tasks() -> list[asyncio.Task[object]]:
    """Tasks of the running loop, other than the caller's, still pending after one yield.

    The single ``sleep(0)`` lets tasks that were already finishing (a just-cancelled task
    handling its CancelledError) complete before they are counted.
    """
    current = asyncio.current_task()
    if not [t for t in asyncio.all_tasks() if t is not current]:
        return []
    await asyncio.sleep(0)
    return [t for t in asyncio.all_tasks() if t is not current and not t.done()]


async def cancel_tasks(tasks: list[asyncio.Task[object]]) -> None:
    """Cancel `tasks` and wait briefly for them to finish, so they do not spill further."""
    for task in tasks:
        task.cancel()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(
            asyncio.gather(*tasks, return_exceptions=True), timeout=_CANCEL_GRACE_S
        )
