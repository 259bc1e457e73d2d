"""Venue adapters: one package per venue, all shaped by `_template` (read it first).

`adapter_for(venue)` is the registry the connector's ``__main__`` uses; adding a venue means
adding its package and one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from ssmd.connector.adapters._template import VenueAdapter
from ssmd.connector.adapters.kalshi.adapter import KalshiAdapter
from ssmd.connector.adapters.kraken_futures.adapter import KrakenFuturesAdapter
from ssmd.connector.adapters.polymarket.adapter import PolymarketAdapter
from ssmd.core.errors import ConfigError

ADAPTERS: Final[dict[str, Callable[[], VenueAdapter]]] = {
    KrakenFuturesAdapter.venue: KrakenFuturesAdapter,
    KalshiAdapter.venue: KalshiAdapter,
    PolymarketAdapter.venue: PolymarketAdapter,
}


def adapter_for(venue: str) -> VenueAdapter:
    """A new adapter of `venue`; `ConfigError` naming the known ones if there is none."""
    factory = ADAPTERS.get(venue)
    if factory is None:
        raise ConfigError(
            f"no connector adapter for venue {venue!r}; known: {sorted(ADAPTERS)}",
            fields=("venue",),
        )
    return factory()
