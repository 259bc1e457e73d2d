"""Which Kalshi markets a shard serves: every configured or listed market ticker whose
canonical market id (``kalshi:<TICKER>``) hashes to the shard.

Tickers are upper case at the venue (``[A-Z0-9.-]``), so they are upper-cased first.
"""

from __future__ import annotations

from collections.abc import Sequence

from ssmd.connector.sharding import owned_markets
from ssmd.contracts.symbols import market_id
from ssmd.venues.kalshi.config import VENUE


def canonical_symbol(symbol: str) -> str:
    return symbol.strip().upper()


def canonical_market_id(symbol: str) -> str:
    return market_id(VENUE, canonical_symbol(symbol))


def shard_markets(symbols: Sequence[str], shards: int, shard: int) -> list[str]:
    """The (canonical, de-duplicated) tickers of `shard`, in the given order."""
    unique = list(dict.fromkeys(canonical_symbol(symbol) for symbol in symbols))
    return owned_markets(unique, shards, shard, market_id_of=canonical_market_id)
