"""`KalshiAdapter`: the Kalshi hooks of `ssmd.connector.adapters._template`."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlsplit

import aiohttp

from ssmd.connector.adapters._template import FrameParser, VenueAdapter, VenueStream
from ssmd.connector.adapters.kalshi import config, parse, provider, rest
from ssmd.connector.adapters.kalshi.stream import KalshiStream
from ssmd.core.errors import ConfigError
from ssmd.venues.kalshi.auth import KalshiCredentials, auth_headers

if TYPE_CHECKING:
    from ssmd.connector.settings import ConnectorSettings


class KalshiAdapter(VenueAdapter):
    """Kalshi Trade API WebSocket v2 and public REST v2 (signed when credentials are set)."""

    venue: ClassVar[str] = config.VENUE
    default_ws_url: ClassVar[str] = config.WS_URL
    default_rest_url: ClassVar[str] = config.REST_URL
    feeds: ClassVar[frozenset[str]] = config.FEEDS
    default_feeds: ClassVar[tuple[str, ...]] = config.DEFAULT_FEEDS
    per_market_book_seq: ClassVar[bool] = False  # seq is per subscription: the stream checks it

    def __init__(self) -> None:
        self._credentials: KalshiCredentials | None = None
        self._private = False

    def configure(self, settings: ConnectorSettings) -> None:
        key_id, key_path = settings.api_key_id, settings.api_private_key_path
        if (key_id is None) != (key_path is None):
            missing = "api_private_key_path" if key_path is None else "api_key_id"
            raise ConfigError(
                f"Kalshi signing needs both api_key_id and api_private_key_path; {missing} "
                "is not set",
                fields=(missing,),
            )
        if key_id is not None and key_path is not None:
            try:
                self._credentials = KalshiCredentials.from_file(key_id, key_path)
            except ValueError as exc:
                raise ConfigError(str(exc), fields=("api_private_key_path",)) from None
        private = sorted(set(settings.channels) & config.PRIVATE_FEEDS)
        if private and self._credentials is None:
            raise ConfigError(
                f"Kalshi channels {private} are private: set api_key_id and api_private_key_path",
                fields=("channels",),
            )

    def connect_headers(self, ws_url: str) -> dict[str, str]:
        """Signed KALSHI-ACCESS-* headers of the upgrade (none without credentials)."""
        if self._credentials is None:
            return {}
        path = urlsplit(ws_url).path
        return auth_headers(self._credentials, "GET", path, time.time_ns() // 1_000_000)

    def symbol(self, symbol: str) -> str:
        return provider.canonical_symbol(symbol)

    def new_parser(self) -> FrameParser:
        return parse.new_parser()

    def new_stream(self, symbols: Sequence[str], channels: Sequence[str]) -> VenueStream:
        return KalshiStream(
            [self.symbol(s) for s in symbols], channels, market_id_of=self.market_id
        )

    async def discover_markets(
        self, http: aiohttp.ClientSession, rest_url: str, timeout_s: float
    ) -> list[str]:
        return await rest.discover_tickers(http, rest_url, timeout_s)

    def owned_markets(self, symbols: Sequence[str], shards: int, shard: int) -> list[str]:
        return provider.shard_markets(symbols, shards, shard)
