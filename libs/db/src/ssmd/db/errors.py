"""Translation of asyncpg and socket errors into ssmd's error types, at the db boundary.

Callers never catch ``asyncpg.*``: they wrap database calls in `translate_errors` and get
`UnavailableError` (server unreachable or going away), `TimeoutExpiredError`,
`TransientQueryError` (serialization failure, deadlock: run the transaction again) or
`QueryError` (anything else the server rejected: retrying the same SQL cannot help).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import asyncpg

from ssmd.core.errors import (
    PermanentError,
    SsmdError,
    TemporaryError,
    TimeoutExpiredError,
    UnavailableError,
)

# SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html) worth a retry.
_UNAVAILABLE_CLASSES = ("08", "53")  # connection exception, insufficient resources
_UNAVAILABLE_CODES = frozenset({"57P01", "57P02", "57P03"})  # admin/crash shutdown, starting
_TRANSIENT_CLASSES = ("40",)  # transaction rollback: serialization failure, deadlock
_TRANSIENT_CODES = frozenset({"55P03"})  # lock_not_available (NOWAIT, lock_timeout)
_QUERY_CANCELED = "57014"  # statement_timeout or a cancel request


class QueryError(PermanentError):
    """PostgreSQL rejected the statement (bad SQL, constraint violation, missing object)."""

    def __init__(self, message: str, *, sqlstate: str, constraint: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        self.constraint = constraint

    @property
    def is_unique_violation(self) -> bool:
        """True for a duplicate key (SQLSTATE 23505): the row is already there."""
        return self.sqlstate == "23505"


class TransientQueryError(TemporaryError):
    """The transaction lost a race (serialization failure, deadlock); run it again."""

    def __init__(self, message: str, *, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


# Driver and socket errors without a SQLSTATE, in matching order (TimeoutError is an OSError).
_NON_SQL_ERRORS: tuple[tuple[type[Exception], type[SsmdError]], ...] = (
    (asyncpg.InterfaceError, PermanentError),  # misuse of the driver: a bug, not an outage
    (asyncpg.InternalClientError, TemporaryError),  # e.g. a plan outdated by a schema change
    (TimeoutError, TimeoutExpiredError),
    (OSError, UnavailableError),  # refused, reset, unreachable, name not resolved
)


def translate(exc: Exception, context: str) -> Exception:
    """The ssmd error for `exc` (returned unchanged if it is not a database error)."""
    if isinstance(exc, SsmdError):
        return exc
    message = f"{context}: {type(exc).__name__}: {exc}"
    if isinstance(exc, asyncpg.PostgresError):
        return _from_sqlstate(exc, message)
    for kind, ssmd_type in _NON_SQL_ERRORS:
        if isinstance(exc, kind):
            return ssmd_type(message)
    return exc


def _from_sqlstate(exc: asyncpg.PostgresError, message: str) -> Exception:
    sqlstate = str(getattr(exc, "sqlstate", "") or "")
    if sqlstate.startswith(_UNAVAILABLE_CLASSES) or sqlstate in _UNAVAILABLE_CODES:
        return UnavailableError(message)
    if sqlstate == _QUERY_CANCELED:
        return TimeoutExpiredError(message)
    if sqlstate.startswith(_TRANSIENT_CLASSES) or sqlstate in _TRANSIENT_CODES:
        return TransientQueryError(message, sqlstate=sqlstate)
    constraint = getattr(exc, "constraint_name", None)
    return QueryError(message, sqlstate=sqlstate, constraint=constraint)


@contextlib.contextmanager
def translate_errors(context: str = "database call") -> Iterator[None]:
    """Re-raise database and network errors raised inside as ssmd errors.

    Works around ``await`` expressions too::

        with translate_errors("loading open orders"):
            rows = await pool.fetch("SELECT ...")

    `context` starts the message; never put a DSN in it (it may hold a password).
    """
    try:
        yield
    except Exception as exc:
        translated = translate(exc, context)
        if translated is exc:
            raise
        raise translated from exc
