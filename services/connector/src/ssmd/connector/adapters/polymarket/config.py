"""Polymarket adapter configuration: endpoints, the market channel, socket limits.

The values come from ``ssmd.venues.polymarket.config``, shared with the OMS adapter and
the simulator, so the three always agree.
"""

from __future__ import annotations

from typing import Final

from ssmd.venues.polymarket import config as venue_config

VENUE: Final = venue_config.VENUE
WS_URL: Final = venue_config.WS_URL
REST_URL: Final = venue_config.CLOB_REST_URL
MARKET_FEED: Final = "market"
"""The market channel: books, price changes, trades, tick sizes, best bid/ask, lifecycle."""
FEEDS: Final = frozenset({MARKET_FEED})
DEFAULT_FEEDS: Final = (MARKET_FEED,)
MARKETS_PER_SOCKET: Final = venue_config.MAX_ASSETS_PER_CONNECTION // 2
"""Two tokens (YES, NO) per market."""
PING_INTERVAL_NS: Final = 10_000_000_000
"""The venue expects a text PING about every 10 s."""
RESYNC_WAIT_NS: Final = 5_000_000_000
"""After re-subscribing a market for a fresh book, further mismatches are expected until the
book arrives; they are not acted on for this long."""
BOOK_REFRESH_S: Final = 300.0
"""Every book is re-fetched once per 5 minutes (a resubscribe per market, spread out): lost
price changes below the top of the book show only when a fresh book differs."""
