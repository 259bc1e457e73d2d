"""Which Polymarket markets a shard serves: every market (condition id) whose canonical
market id (``polymarket:<condition_id>``) hashes to the shard.

Condition ids are ``0x`` + 64 hex digits; they are lower-cased, as the venue prints them.
"""

from __future__ import annotations

from collections.abc import Sequence

from ssmd.connector.sharding import owned_markets
from ssmd.contracts.symbols import market_id
from ssmd.venues.polymarket.config import VENUE
from ssmd.venues.polymarket.tokens import normalize_condition_id


def canonical_symbol(symbol: str) -> str:
    return normalize_condition_id(symbol.strip()) or symbol.strip().lower()


def canonical_market_id(symbol: str) -> str:
    return market_id(VENUE, canonical_symbol(symbol))


def shard_markets(symbols: Sequence[str], shards: int, shard: int) -> list[str]:
    """The (canonical, de-duplicated) condition ids of `shard`, in the given order."""
    unique = list(dict.fromkeys(canonical_symbol(symbol) for symbol in symbols))
    return owned_markets(unique, shards, shard, market_id_of=canonical_market_id)
