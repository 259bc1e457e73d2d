"""Identifiers: time-sortable unique ids and deterministic content ids.

`new_id` gives a 26-character ULID-style id (48-bit millisecond time + 80 random bits,
Crockford base32), sortable by creation time, for orders, runs and outbox rows.
`content_id` gives a stable id from parts (venue, market, sequence...) for dedup keys such
as ``Nats-Msg-Id``: the same parts always give the same id, in any process.
"""

from __future__ import annotations

import hashlib
import os
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_SEPARATOR = "\x1f"  # unit separator: cannot be confused with text inside a part


def _base32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, index = divmod(value, 32)
        chars.append(_CROCKFORD[index])
    return "".join(reversed(chars))


def new_id(now_ms: int | None = None) -> str:
    """A new 26-character, time-sortable, unique id."""
    millis = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    if not 0 <= millis < 1 << 48:
        raise ValueError("timestamp out of range for a 48-bit millisecond field")
    randomness = int.from_bytes(os.urandom(10), "big")
    return _base32(millis, 10) + _base32(randomness, 16)


def id_time_ms(identifier: str) -> int:
    """The millisecond timestamp inside an id made by `new_id`."""
    if len(identifier) != 26:
        raise ValueError(f"not an ssmd id: {identifier!r}")
    value = 0
    for char in identifier[:10].upper():
        index = _CROCKFORD.find(char)
        if index < 0:
            raise ValueError(f"not an ssmd id: {identifier!r}")
        value = value * 32 + index
    return value


def content_id(*parts: str | int) -> str:
    """A deterministic 32-hex-character id of `parts` (BLAKE2b-128 of their joined text)."""
    if not parts:
        raise ValueError("content_id needs at least one part")
    text = _SEPARATOR.join(str(part) for part in parts)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
