"""Errors carry the retry decision; the retry helper caps and jitters its backoff."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssmd.core.errors import (
    BadInputError,
    ConfigError,
    PermanentError,
    TemporaryError,
    UnavailableError,
    should_retry,
)
from ssmd.core.retry import Backoff, retry_async

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (UnavailableError("nats down"), True),
        (TemporaryError("5xx"), True),
        (TimeoutError(), True),
        (ConnectionResetError(), True),
        (PermanentError("4xx"), False),
        (BadInputError("bad frame"), False),
        (ConfigError("bad field"), False),
        (KeyError("bug"), False),
    ],
)
def test_should_retry_follows_the_type(exc: BaseException, expected: bool) -> None:
    assert should_retry(exc) is expected


@given(st.integers(min_value=1, max_value=10_000), st.integers(min_value=0, max_value=2**32))
def test_backoff_delay_is_capped_and_jittered_within_bounds(attempt: int, seed: int) -> None:
    policy = Backoff(initial_s=0.1, max_s=5.0, multiplier=2.0, jitter=0.5, rng=random.Random(seed))
    ceiling = min(5.0, 0.1 * 2.0 ** min(attempt - 1, 64))
    delay = policy.delay_s(attempt)
    assert 0.5 * ceiling <= delay <= ceiling <= 5.0


def test_backoff_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="initial_s"):
        Backoff(initial_s=2.0, max_s=1.0)
    with pytest.raises(ValueError, match="jitter"):
        Backoff(jitter=1.5)


async def test_retry_retries_temporary_errors_then_succeeds() -> None:
    slept: list[float] = []
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise UnavailableError("not yet")
        return "ok"

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    policy = Backoff(initial_s=0.1, max_s=1.0, jitter=0.0)
    assert await retry_async(flaky, backoff=policy, sleep=fake_sleep) == "ok"
    assert calls == 3
    assert slept == [0.1, 0.2]


async def test_retry_does_not_retry_permanent_errors() -> None:
    calls = 0

    async def broken() -> None:
        nonlocal calls
        calls += 1
        raise PermanentError("rejected")

    with pytest.raises(PermanentError):
        await retry_async(broken, sleep=_no_sleep)
    assert calls == 1


async def test_retry_gives_up_after_max_attempts_with_last_error() -> None:
    calls = 0

    async def down() -> None:
        nonlocal calls
        calls += 1
        raise UnavailableError(f"attempt {calls}")

    with pytest.raises(UnavailableError, match="attempt 4"):
        await retry_async(down, max_attempts=4, sleep=_no_sleep)


async def _no_sleep(_: float) -> None:
    return None
