"""Kalshi adapter configuration: endpoints and the channels a connector may subscribe.

The values come from ``ssmd.venues.kalshi.config``, shared with the OMS adapter and the
simulator, so the three always agree.
"""

from __future__ import annotations

from typing import Final

from ssmd.venues.kalshi import config as venue_config

VENUE: Final = venue_config.VENUE
WS_URL: Final = venue_config.WS_URL
REST_URL: Final = venue_config.REST_URL
FEEDS: Final = venue_config.PUBLIC_CHANNELS | venue_config.PRIVATE_CHANNELS
PRIVATE_FEEDS: Final = venue_config.PRIVATE_CHANNELS
MARKET_FEEDS: Final = venue_config.MARKET_CHANNELS
"""Channels subscribed per market (in groups); the lifecycle channel covers all markets."""
LIFECYCLE_FEED: Final = venue_config.LIFECYCLE
BOOK_FEED: Final = venue_config.ORDERBOOK
TICKER_FEED: Final = venue_config.TICKER
TRADE_FEED: Final = venue_config.TRADE
DEFAULT_FEEDS: Final = (
    venue_config.TRADE,
    venue_config.ORDERBOOK,
    venue_config.TICKER,
    venue_config.LIFECYCLE,
)
"""Executions, the YES-leg book, top of book, and lifecycle (MarketStatus, settlement)."""
GROUP_MARKETS: Final = 500
"""Markets per subscription at first; the venue's cap is unpublished, so a subscription
refused with error 26 is split in halves until it is accepted."""
LISTED_STATUSES: Final = ("open", "unopened", "paused")
"""REST status filters of markets worth subscribing (anything not yet closed)."""
