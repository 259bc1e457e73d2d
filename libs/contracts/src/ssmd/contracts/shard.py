"""The shard of a market: which connector shard serves it and which subject token it gets.

The function, to be reimplemented identically in any language::

    shard = uint64_big_endian(sha256(utf8(market_id))[0:8]) mod shard_count

that is, hash the canonical market id (``<venue>:<symbol>``, exact spelling) as UTF-8 with
SHA-256, read the first 8 bytes of the digest as an unsigned big-endian 64-bit integer and
take it modulo the shard count. Example: ``shard_of("kalshi:KXBTCD-25NOV21-T100000", 8)``.

Python's built-in ``hash`` is salted per process (PYTHONHASHSEED) and must never be used
here: the connector that splits markets and every reader of the shard token must agree.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Final

_UINT64_BE: Final = struct.Struct(">Q")


def shard_of(market_id: str, shard_count: int) -> int:
    """The shard in ``range(shard_count)`` of `market_id`; see the module doc for the rule."""
    # bool is an int subclass; True as a shard count is a bug, not one shard.
    if isinstance(shard_count, bool) or not isinstance(shard_count, int):
        raise TypeError(f"shard_count must be an int, got {shard_count!r}")
    if shard_count < 1:
        raise ValueError(f"shard_count must be >= 1, got {shard_count}")
    digest = hashlib.sha256(market_id.encode("utf-8")).digest()
    (prefix,) = _UINT64_BE.unpack_from(digest)
    return int(prefix) % shard_count
