"""Kraken Futures adapter configuration: endpoints and the feeds a connector may subscribe.

The values come from ``ssmd.venues.kraken_futures.config``, shared with the OMS adapter and
the simulator, so the three always agree.
"""

from __future__ import annotations

from typing import Final

from ssmd.venues.kraken_futures import config as venue_config

VENUE: Final = venue_config.VENUE
WS_URL: Final = venue_config.WS_URL
REST_URL: Final = venue_config.REST_URL
FEEDS: Final = frozenset(venue_config.PRODUCT_FEEDS)
"""Public per-product feeds: book, trade, ticker, ticker_lite."""
DEFAULT_FEEDS: Final = ("trade", "book", "ticker")
"""Executions, the full L2 book, top of book with funding."""
BOOK_FEED: Final = venue_config.BOOK
HEARTBEAT_FEED: Final = venue_config.HEARTBEAT
"""Always subscribed as well: it keeps a quiet socket audible to the watchdog."""
SUBSCRIBABLE_KINDS: Final = frozenset({"perpetual", "fixed_maturity"})
"""Instrument kinds (``ssmd.venues.kraken_futures.rest.Instrument.kind``) with WS feeds."""
