"""Canonical market ids and the encoding of venue symbols into NATS subject tokens.

A market id is ``<venue>:<venue symbol>``; the venue is a lowercase name token
([a-z0-9_]+) and the symbol is the venue's exact spelling, any Unicode text.

Venue symbols reach subjects only through `encode_token`, so venue data can never inject
subject syntax (Kalshi tickers contain '.', the token separator; '*', '>' and whitespace are
wildcards or break the protocol). The encoding, to be reimplemented identically elsewhere:

- ASCII letters, ASCII digits, '-' and '_' are kept as they are;
- every other character, '~' included, becomes its UTF-8 bytes, each written ``~XX`` with
  ``XX`` two UPPERCASE hex digits (``.`` -> ``~2E``, ``é`` -> ``~C3~A9``);
- the empty symbol becomes the token ``~`` (a subject token is never empty).

Tokens therefore contain only ``[A-Za-z0-9_~-]`` and are never empty. The encoding is
injective and `decode_token` accepts exactly its image: lowercase hex, a stray or truncated
``~``, an escape of a character that passes through (``~41`` for ``A``) or bytes that are not
UTF-8 are rejected with ValueError, so each symbol has one token and each token one symbol.
"""

from __future__ import annotations

import functools
import re
from typing import Final

from ssmd.contracts._tokens import check_name

EMPTY_TOKEN: Final = "~"  # noqa: S105 - a subject token, not a credential
MARKET_ID_SEPARATOR: Final = ":"

# Explicit ASCII ranges: \w and str.isalnum() would let non-ASCII letters through.
_PLAIN_RE: Final = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPED_CHAR_RE: Final = re.compile(r"[^A-Za-z0-9_-]")
_CANONICAL_SHAPE_RE: Final = re.compile(r"(?:[A-Za-z0-9_-]|~[0-9A-F]{2})+")
_ESCAPE_RUN_RE: Final = re.compile(r"(?:~[0-9A-F]{2})+")
# Connectors encode the same few thousand symbols on every event; bounded by maxsize.
_CACHE_SIZE: Final = 1 << 16


def _escape(match: re.Match[str]) -> str:
    return "".join(f"~{byte:02X}" for byte in match.group().encode("utf-8"))


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _encode_cached(symbol: str) -> str:
    if not symbol:
        return EMPTY_TOKEN
    if _PLAIN_RE.fullmatch(symbol) is not None:
        return symbol
    try:
        return _ESCAPED_CHAR_RE.sub(_escape, symbol)
    except UnicodeEncodeError as exc:
        raise ValueError(f"symbol {symbol!r} is not valid Unicode text (lone surrogate)") from exc


def encode_token(symbol: str) -> str:
    """Encode a venue symbol (any Unicode text) as one NATS subject token; see module doc."""
    return _encode_cached(symbol)


def _unescape(match: re.Match[str]) -> str:
    return bytes.fromhex(match.group().replace("~", "")).decode("utf-8")


def decode_token(token: str) -> str:
    """Invert `encode_token`; raise ValueError for any token it could not have produced."""
    if token == EMPTY_TOKEN:
        return ""
    if _CANONICAL_SHAPE_RE.fullmatch(token) is None:
        raise ValueError(
            f"not a symbol token {token!r}: only [A-Za-z0-9_-] and ~XX (uppercase hex) allowed"
        )
    try:
        symbol = _ESCAPE_RUN_RE.sub(_unescape, token)
    except UnicodeDecodeError as exc:
        raise ValueError(f"not a symbol token {token!r}: escapes are not UTF-8 ({exc})") from exc
    # The shape check cannot see an escaped character that should have passed through.
    if encode_token(symbol) != token:
        raise ValueError(
            f"not a canonical symbol token {token!r}: the canonical token for {symbol!r} "
            f"is {encode_token(symbol)!r}"
        )
    return symbol


def market_id(venue: str, symbol: str) -> str:
    """The canonical market id ``<venue>:<symbol>``; the symbol is kept exactly as given."""
    check_name("venue", venue)
    return f"{venue}{MARKET_ID_SEPARATOR}{symbol}"


def split_market_id(market_id: str) -> tuple[str, str]:
    """Split a canonical market id into ``(venue, symbol)``.

    The split is at the first ':' because venues never contain one; the symbol may.
    """
    venue, separator, symbol = market_id.partition(MARKET_ID_SEPARATOR)
    if not separator:
        raise ValueError(f"market id {market_id!r} is not '<venue>:<symbol>'")
    check_name("venue of market id", venue)
    return venue, symbol
