"""Errors of the bus, and the one place where nats-py's exceptions become ssmd's.

Callers of `ssmd.bus` never catch ``nats.*``: every public coroutine wraps its nats-py calls
in `nats_errors`, which re-raises the `ssmd.core.errors` type that carries the retry
decision (the nats exception stays attached as ``__cause__`` for the log).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import nats.errors
import nats.js.errors

from ssmd.core.errors import (
    PermanentError,
    SsmdError,
    TemporaryError,
    TimeoutExpiredError,
    UnavailableError,
)


class NotFoundError(PermanentError):
    """A stream, consumer or bucket that the operation needs does not exist."""


@dataclass(frozen=True, slots=True)
class PublishFailure:
    """One message JetStream did not store, and why."""

    msg_id: str
    subject: str
    error: SsmdError


class PublishError(SsmdError):
    """Messages of a Publisher were not acknowledged; ``failures`` names each one.

    Raised as `TemporaryPublishError` when every failure may succeed if published again
    with the same msg id (timeouts, lost connection, server busy), else as
    `PermanentPublishError` (no stream for the subject, rejected by the stream).
    """

    def __init__(self, failures: tuple[PublishFailure, ...], *, dropped: int = 0) -> None:
        self.failures = failures
        self.dropped = dropped  # failures beyond the recorded ones (the list is bounded)
        shown = ", ".join(f.msg_id for f in failures[:5])
        more = len(failures) - 5 + dropped
        suffix = f" and {more} more" if more > 0 else ""
        first = failures[0].error if failures else "unknown"
        super().__init__(
            f"{len(failures) + dropped} message(s) not acknowledged: {shown}{suffix} "
            f"(first cause: {first})"
        )

    @property
    def msg_ids(self) -> tuple[str, ...]:
        return tuple(f.msg_id for f in self.failures)

    @staticmethod
    def of(failures: tuple[PublishFailure, ...], *, dropped: int = 0) -> PublishError:
        """The temporary or permanent flavour, by the worst cause among `failures`."""
        if any(not f.error.retryable for f in failures):
            return PermanentPublishError(failures, dropped=dropped)
        return TemporaryPublishError(failures, dropped=dropped)


class TemporaryPublishError(PublishError, TemporaryError):
    """Every failed message may be stored if published again with its msg id."""


class PermanentPublishError(PublishError, PermanentError):
    """At least one message can never be stored as sent (fix the subject or stream)."""


# JetStream answers some rejected configurations with code 500 (its "...ErrF" wrappers):
# consumer create (10012), stream create (10049) and stream update (10052). Retrying those
# cannot help; other 500s (a server-side hiccup) may.
_REJECTED_CONFIG_ERR_CODES = frozenset({10012, 10049, 10052})


def api_error(code: int, err_code: int, description: str) -> SsmdError:
    """The ssmd error for a JetStream API error reply (HTTP-like ``code``)."""
    text = f"JetStream: {description} (code {code}, err_code {err_code})"
    if err_code in _REJECTED_CONFIG_ERR_CODES:
        return PermanentError(text)
    if code in (408, 429, 500, 503):
        return UnavailableError(text)
    if code == 404:
        return NotFoundError(text)
    return PermanentError(text)


_UNAVAILABLE: tuple[type[BaseException], ...] = (
    nats.errors.ConnectionClosedError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.ConnectionDrainingError,
    nats.errors.NoServersError,
    nats.errors.NoRespondersError,
    nats.js.errors.NoStreamResponseError,
    OSError,
)
_BAD_REQUEST: tuple[type[BaseException], ...] = (
    nats.errors.BadSubjectError,
    nats.errors.BadHeaderError,
    nats.errors.MaxPayloadError,
    nats.errors.AuthorizationError,
    nats.errors.BadTimeoutError,
    nats.js.errors.InvalidBucketNameError,
    nats.js.errors.KeyHistoryTooLargeError,
    ValueError,
)


def translate(exc: BaseException, doing: str) -> SsmdError:
    """The ssmd error for an exception raised by nats-py while `doing` something."""
    if isinstance(exc, SsmdError):
        return exc
    if isinstance(exc, nats.js.errors.APIError):
        error = api_error(exc.code or 0, exc.err_code or 0, exc.description or str(exc))
        error.args = (f"{doing}: {error}",)
        return error
    if isinstance(exc, nats.errors.TimeoutError | asyncio.TimeoutError | TimeoutError):
        return TimeoutExpiredError(f"{doing}: timed out")
    if isinstance(exc, _UNAVAILABLE):
        return UnavailableError(f"{doing}: NATS unavailable ({type(exc).__name__}: {exc})")
    if isinstance(exc, _BAD_REQUEST):
        return PermanentError(f"{doing}: rejected ({type(exc).__name__}: {exc})")
    return TemporaryError(f"{doing}: {type(exc).__name__}: {exc}")


@contextmanager
def nats_errors(doing: str) -> Iterator[None]:
    """Re-raise nats-py (and socket) errors in the block as ssmd errors."""
    try:
        yield
    except (nats.errors.Error, OSError, TimeoutError, ValueError) as exc:
        raise translate(exc, doing) from exc
