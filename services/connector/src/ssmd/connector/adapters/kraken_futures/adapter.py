"""`KrakenFuturesAdapter`: the Kraken Futures hooks of `ssmd.connector.adapters._template`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import aiohttp

from ssmd.connector.adapters._template import FrameParser, VenueAdapter, VenueStream
from ssmd.connector.adapters.kraken_futures import config, parse, provider, rest
from ssmd.connector.adapters.kraken_futures.stream import KrakenFuturesStream


class KrakenFuturesAdapter(VenueAdapter):
    """Kraken Futures (Kraken Derivatives) WebSocket v1 and public REST."""

    venue: ClassVar[str] = config.VENUE
    default_ws_url: ClassVar[str] = config.WS_URL
    default_rest_url: ClassVar[str] = config.REST_URL
    feeds: ClassVar[frozenset[str]] = config.FEEDS
    default_feeds: ClassVar[tuple[str, ...]] = config.DEFAULT_FEEDS
    per_market_book_seq: ClassVar[bool] = True  # seq is per product, +1 per book message

    def symbol(self, symbol: str) -> str:
        return provider.canonical_symbol(symbol)

    def new_parser(self) -> FrameParser:
        return parse.new_parser()

    def new_stream(self, symbols: Sequence[str], channels: Sequence[str]) -> VenueStream:
        return KrakenFuturesStream([self.symbol(s) for s in symbols], channels)

    async def discover_markets(
        self, http: aiohttp.ClientSession, rest_url: str, timeout_s: float
    ) -> list[str]:
        return await rest.discover_symbols(http, rest_url, timeout_s)

    def owned_markets(self, symbols: Sequence[str], shards: int, shard: int) -> list[str]:
        return provider.shard_markets(symbols, shards, shard)
