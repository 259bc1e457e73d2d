"""Which Kraken Futures markets a shard serves: every configured or listed product whose
canonical market id (``kraken_futures:<PRODUCT_ID>``, upper case) hashes to the shard.

Product ids are case-insensitive at the venue, so symbols are upper-cased first: ``pi_xbtusd``
and ``PI_XBTUSD`` are one market and land on one shard.
"""

from __future__ import annotations

from collections.abc import Sequence

from ssmd.connector.sharding import owned_markets
from ssmd.contracts.symbols import market_id
from ssmd.venues.kraken_futures.config import VENUE


def canonical_symbol(symbol: str) -> str:
    """The venue's spelling of a product id: upper case, as it sends them."""
    return symbol.upper()


def canonical_market_id(symbol: str) -> str:
    return market_id(VENUE, canonical_symbol(symbol))


def shard_markets(symbols: Sequence[str], shards: int, shard: int) -> list[str]:
    """The (canonical, de-duplicated) symbols of `shard`, in the given order."""
    unique = list(dict.fromkeys(canonical_symbol(symbol) for symbol in symbols))
    return owned_markets(unique, shards, shard, market_id_of=canonical_market_id)
