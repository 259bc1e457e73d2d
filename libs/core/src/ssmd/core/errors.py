"""The ssmd error hierarchy: the exception type carries the retry decision.

Callers decide whether to retry by asking `should_retry(exc)`, never by matching
messages or by catching a lower layer's exceptions (`nats.*`, `asyncpg.*`): adapters
translate those into one of the types here at their boundary.
"""

from __future__ import annotations

from typing import ClassVar


class SsmdError(Exception):
    """Base of every error ssmd raises on purpose."""

    retryable: ClassVar[bool] = False


class TemporaryError(SsmdError):
    """The operation may succeed if retried after a delay (timeouts, 5xx, lost connection)."""

    retryable: ClassVar[bool] = True


class PermanentError(SsmdError):
    """Retrying the same operation cannot succeed (bad input, 4xx, broken invariant)."""

    retryable: ClassVar[bool] = False


class ConfigError(PermanentError):
    """Settings are invalid; start-up stops and names the field."""

    def __init__(self, message: str, *, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.fields = fields


class BadInputError(PermanentError):
    """Input from outside (a venue frame, an API request) is malformed."""


class UnavailableError(TemporaryError):
    """A dependency (NATS, Postgres, Redis, a venue) cannot be reached right now."""


class TimeoutExpiredError(TemporaryError):
    """An operation did not finish within its deadline."""


def should_retry(exc: BaseException) -> bool:
    """True if `exc` is worth retrying after a delay.

    ssmd errors answer by type. Of the rest, only the standard library's transient
    network errors are retried; anything else is treated as a bug and not retried.
    """
    if isinstance(exc, SsmdError):
        return exc.retryable
    return isinstance(exc, TimeoutError | ConnectionError)
