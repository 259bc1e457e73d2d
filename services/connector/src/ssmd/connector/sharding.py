"""Which markets a connector shard serves: the contract's shard hash, applied to symbols.

A market belongs to shard ``k`` of ``n`` iff ``shard_of(market_id, n) == k``
(`ssmd.contracts.shard`, the same function that gives the subject's shard token), so the
shards of one venue partition its markets: every market is served by exactly one shard.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ssmd.contracts.shard import shard_of


def owned_markets(
    symbols: Iterable[str],
    shards: int,
    shard: int,
    *,
    market_id_of: Callable[[str], str],
) -> list[str]:
    """The symbols (in the given order) whose market id hashes to `shard` of `shards`."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is not in range({shards})")
    return [symbol for symbol in symbols if shard_of(market_id_of(symbol), shards) == shard]


def split_markets(
    symbols: Iterable[str], shards: int, *, market_id_of: Callable[[str], str]
) -> list[list[str]]:
    """Every shard's symbols, index = shard (what `shards` connectors serve together)."""
    out: list[list[str]] = [[] for _ in range(shards)]
    for symbol in symbols:
        out[shard_of(market_id_of(symbol), shards)].append(symbol)
    return out
