"""Exact conversion of venue numbers into canonical decimal strings.

Venues send prices and sizes as JSON numbers (Kraken Futures) or as strings (Kalshi,
Polymarket). Canonical events carry them as decimal strings in plain notation, so the value
must never pass through a binary float: ``-6.2604214e-11`` has no exact double, and a double
printed back may differ in its last digits. Here the raw text of the number is rewritten
digit for digit.

The canonical form (what `plain_decimal` returns) is the shortest plain notation of the
value: no exponent, no trailing fractional zeros, no ``.`` without digits after it, and
``0`` rather than ``-0``. So ``21987.0`` -> ``21987``, ``15000`` -> ``15000``,
``-6.2604214e-11`` -> ``-0.000000000062604214``. Equal values always get equal strings,
which keeps content hashes (message ids) stable.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Final

# JSON number grammar (RFC 8259 section 6): no leading '+', no leading zeros, no bare '.'.
_JSON_NUMBER_RE: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
# Bound on |exponent| so that a hostile "1e999999999" cannot make a gigabyte string.
# Doubles stop near 1e308; a venue never sends more.
MAX_ABS_EXPONENT: Final = 400
# Distinct number texts seen by one process are few (prices near the touch, common sizes);
# the cache turns most conversions into one dict lookup. Cleared when full (bounded).
_CACHE_MAX_ENTRIES: Final = 1 << 16
_cache: dict[bytes, str] = {}


def _strip(text: str) -> str:
    """Drop trailing fractional zeros of plain text, and the sign of zero."""
    if "." in text:
        text = text.rstrip("0")
        if text[-1] == ".":
            text = text[:-1]
    if text == "-0":
        return "0"
    return text


def plain_decimal(text: str) -> str:
    """The canonical plain-notation string of a JSON number's text.

    Raises ValueError if `text` is not a JSON number (strings with quotes, ``NaN``,
    ``+1``, ``.5``, ``1.`` are all rejected) or its exponent is beyond ±400.
    """
    if _JSON_NUMBER_RE.fullmatch(text) is None:
        raise ValueError(f"not a JSON number: {text[:64]!r}")
    if "e" not in text and "E" not in text:
        return _strip(text)
    value = Decimal(text)
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite: the grammar admits no NaN or Infinity
    if abs(exponent) > MAX_ABS_EXPONENT or abs(value.adjusted()) > MAX_ABS_EXPONENT:
        raise ValueError(f"number out of range: {text[:64]!r}")
    return _strip(format(value, "f"))


def number_text(raw: bytes) -> str:
    """`plain_decimal` of raw JSON bytes, cached; the hot path of every venue parser."""
    text = _cache.get(raw)
    if text is not None:
        return text
    try:
        decoded = raw.decode("ascii")
    except UnicodeDecodeError:
        raise ValueError(f"not a JSON number: {raw[:64]!r}") from None
    text = plain_decimal(decoded)
    if len(_cache) >= _CACHE_MAX_ENTRIES:
        _cache.clear()
    _cache[raw] = text
    return text


def decimal_text(value: Decimal) -> str:
    """The canonical plain-notation string of a finite Decimal."""
    if not value.is_finite():
        raise ValueError(f"not a finite decimal: {value}")
    return _strip(format(value, "f"))


def parse_decimal(text: str) -> Decimal:
    """A Decimal from decimal text (plain or exponent notation); ValueError if not one."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a decimal number: {text[:64]!r}") from None
    if not value.is_finite():
        raise ValueError(f"not a finite decimal: {text[:64]!r}")
    return value


def scaled_int_text(units: int, decimals: int) -> str:
    """The canonical text of ``units * 10**-decimals`` (e.g. ticks or lots -> decimal text).

    Integer arithmetic only: simulators keep prices as integer ticks and print them here.
    """
    if decimals <= 0:
        return str(units * 10 ** (-decimals))
    sign = "-" if units < 0 else ""
    whole, fraction = divmod(abs(units), 10**decimals)
    if fraction == 0:
        return f"{sign}{whole}" if whole else "0"
    digits = f"{fraction:0{decimals}d}".rstrip("0")
    return f"{sign}{whole}.{digits}"
