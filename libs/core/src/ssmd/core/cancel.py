"""`raise_if_cancelling`: keep a cancellation that a lower layer swallowed.

Python 3.11's ``asyncio.wait_for`` (used inside nats-py's requests) returns the result when
the awaited future completes in the same loop turn as a ``cancel()``, and the
`CancelledError` is lost. A retry loop that catches the request's error then retries
forever, and SIGTERM never stops it. The task still counts the request
(``Task.cancelling()``), so every retry loop here calls this before it sleeps.
"""

from __future__ import annotations

import asyncio


def raise_if_cancelling() -> None:
    """Raise `asyncio.CancelledError` if the current task was asked to cancel."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
