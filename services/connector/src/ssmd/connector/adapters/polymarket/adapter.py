"""`PolymarketAdapter`: the Polymarket hooks of `ssmd.connector.adapters._template`.

The adapter owns the `TokenIndex` (condition id <-> YES/NO token ids) that discovery and
`prepare_markets` fill from the CLOB REST API and that every parser and stream reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import aiohttp

from ssmd.connector.adapters._template import FrameParser, VenueAdapter, VenueStream
from ssmd.connector.adapters.polymarket import config, parse, provider, rest
from ssmd.connector.adapters.polymarket.stream import PolymarketStream
from ssmd.venues.polymarket.tokens import TokenIndex


class PolymarketAdapter(VenueAdapter):
    """Polymarket CLOB market channel (public) and CLOB REST."""

    venue: ClassVar[str] = config.VENUE
    default_ws_url: ClassVar[str] = config.WS_URL
    default_rest_url: ClassVar[str] = config.REST_URL
    feeds: ClassVar[frozenset[str]] = config.FEEDS
    default_feeds: ClassVar[tuple[str, ...]] = config.DEFAULT_FEEDS
    per_market_book_seq: ClassVar[bool] = False  # no sequence numbers on this venue
    markets_per_socket: ClassVar[int | None] = config.MARKETS_PER_SOCKET
    book_refresh_s: ClassVar[float] = config.BOOK_REFRESH_S

    def __init__(self) -> None:
        self.index = TokenIndex()

    def symbol(self, symbol: str) -> str:
        return provider.canonical_symbol(symbol)

    def new_parser(self) -> FrameParser:
        return parse.new_parser(self.index)

    def new_stream(self, symbols: Sequence[str], channels: Sequence[str]) -> VenueStream:  # noqa: ARG002 - one channel
        return PolymarketStream(
            [self.symbol(s) for s in symbols], index=self.index, market_id_of=self.market_id
        )

    async def discover_markets(
        self, http: aiohttp.ClientSession, rest_url: str, timeout_s: float
    ) -> list[str]:
        return await rest.discover(http, rest_url, timeout_s, self.index)

    async def prepare_markets(
        self,
        http: aiohttp.ClientSession,
        rest_url: str,
        symbols: Sequence[str],
        timeout_s: float,
    ) -> list[str]:
        return await rest.look_up(http, rest_url, timeout_s, self.index, symbols)

    def owned_markets(self, symbols: Sequence[str], shards: int, shard: int) -> list[str]:
        return provider.shard_markets(symbols, shards, shard)
