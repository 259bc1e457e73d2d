"""Reading API parameters: timestamps (ISO-8601 or Unix ns), market ids, and their errors.

Every rejection is a `ParameterError` naming the parameter and saying what is wrong, so the
API answers 400 with a reason a caller can act on. Times are integer Unix nanoseconds
everywhere inside the gateway; `format_ns` writes them back as ISO-8601 with all nine
fractional digits (``2024-05-01T12:00:00.123456789Z``).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

from ssmd.contracts.symbols import split_market_id
from ssmd.core.errors import BadInputError

NS_PER_S: Final = 1_000_000_000
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Date, optional time (minutes or seconds), optional fraction of up to 9 digits, optional
# zone; 'T' or a space between date and time. Python's fromisoformat stops at microseconds.
_ISO: Final = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<time>\d{2}:\d{2}(?::\d{2})?)(?:\.(?P<fraction>\d{1,9}))?)?"
    r"(?P<zone>Z|z|[+-]\d{2}:?\d{2})?"
)
_MAX_NS: Final = 2**63 - 1


class ParameterError(BadInputError):
    """A request parameter is missing, malformed or not acceptable; answered 400."""

    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__(f"{parameter}: {reason}")
        self.parameter = parameter
        self.reason = reason


def parse_time_ns(value: str, parameter: str) -> int:
    """Unix nanoseconds from ``1714564800000000000`` or ISO-8601 (no zone means UTC).

    ISO-8601 forms: ``2024-05-01``, ``2024-05-01T12:00``, ``2024-05-01T12:00:00``,
    with up to 9 fractional digits and ``Z`` or ``±HH:MM``. A bare integer is Unix time in
    nanoseconds, never seconds: 10-digit values are rejected to catch that mistake.
    """
    text = value.strip()
    if not text:
        raise ParameterError(parameter, "is empty; give ISO-8601 or Unix nanoseconds")
    if text.isascii() and text.isdigit():
        if len(text) <= 10:
            raise ParameterError(
                parameter,
                f"{text!r} looks like seconds or milliseconds; integers are Unix nanoseconds "
                "(19 digits today), or give ISO-8601",
            )
        ns = int(text)
        if ns > _MAX_NS:
            raise ParameterError(parameter, f"{text!r} is out of range")
        return ns
    match = _ISO.fullmatch(text)
    if match is None:
        raise ParameterError(
            parameter,
            f"{value!r} is neither ISO-8601 (2024-05-01T12:00:00.5Z) nor Unix nanoseconds",
        )
    base = match["date"] + "T" + (match["time"] or "00:00")
    zone = match["zone"]
    if zone in (None, "Z", "z"):
        zone = "+00:00"
    try:
        moment = dt.datetime.fromisoformat(base + zone)
    except ValueError as exc:
        raise ParameterError(parameter, f"{value!r} is not a valid time: {exc}") from exc
    whole = moment - _EPOCH
    seconds = whole.days * 86_400 + whole.seconds
    fraction = (match["fraction"] or "").ljust(9, "0")
    ns = seconds * NS_PER_S + int(fraction or "0")
    if not 0 <= ns <= _MAX_NS:
        raise ParameterError(parameter, f"{value!r} is before 1970 or too far ahead")
    return ns


def format_ns(ns: int) -> str:
    """ISO-8601 UTC with nanoseconds: ``2024-05-01T12:00:00.123456789Z``.

    Runs once per trade of an answer, so the ``YYYY-MM-DDTHH:MM:`` prefix is cached per
    minute (trades of a query cluster in few minutes); ``strftime`` per row would cost more
    than the rest of the row.
    """
    seconds, fraction = divmod(ns, NS_PER_S)
    minute, second = divmod(seconds, 60)
    prefix = _MINUTES.get(minute)
    if prefix is None:
        if len(_MINUTES) >= _MINUTES_MAX:
            _MINUTES.clear()
        moment = _EPOCH + dt.timedelta(minutes=minute)
        prefix = _MINUTES[minute] = moment.strftime("%Y-%m-%dT%H:%M:")
    return f"{prefix}{second:02d}.{fraction:09d}Z"


_MINUTES: dict[int, str] = {}
_MINUTES_MAX: Final = 16_384


def parse_market(value: str, venues: tuple[str, ...]) -> tuple[str, str]:
    """``(venue, market id)`` of a canonical market id served by this gateway."""
    try:
        venue, symbol = split_market_id(value)
    except ValueError as exc:
        raise ParameterError(
            "market", f"{value!r} is not a canonical id '<venue>:<venue symbol>': {exc}"
        ) from exc
    if not symbol:
        raise ParameterError("market", f"{value!r} has an empty venue symbol")
    if venue not in venues:
        raise ParameterError(
            "market", f"unknown venue {venue!r}; this gateway serves {', '.join(venues)}"
        )
    return venue, value
