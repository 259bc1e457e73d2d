"""Kraken Futures constants: venue name, endpoints, feed names, protocol limits.

Sources are in shared/VENUES.md section 2; values here are the ones the connector, the
OMS adapter and the simulator must agree on.
"""

from __future__ import annotations

from typing import Final

VENUE: Final = "kraken_futures"

WS_URL: Final = "wss://futures.kraken.com/ws/v1"
WS_URL_DEMO: Final = "wss://demo-futures.kraken.com/ws/v1"
WS_PATH: Final = "/ws/v1"
REST_URL: Final = "https://futures.kraken.com/derivatives/api/v3"
REST_URL_DEMO: Final = "https://demo-futures.kraken.com/derivatives/api/v3"
REST_PATH: Final = "/derivatives/api/v3"

# Public feeds a client subscribes to with product ids; what each subscription delivers.
BOOK: Final = "book"
TRADE: Final = "trade"
TICKER: Final = "ticker"
TICKER_LITE: Final = "ticker_lite"
HEARTBEAT: Final = "heartbeat"
PRODUCT_FEEDS: Final = frozenset({BOOK, TRADE, TICKER, TICKER_LITE})
PUBLIC_FEEDS: Final = PRODUCT_FEEDS | {HEARTBEAT}
# Feed names of data messages (a subscription's snapshot arrives under its own name).
DATA_FEEDS: Final = frozenset(
    {"book_snapshot", BOOK, "trade_snapshot", TRADE, TICKER, TICKER_LITE, HEARTBEAT}
)
# The subscription each data feed belongs to.
SUBSCRIPTION_OF_FEED: Final = {
    "book_snapshot": BOOK,
    BOOK: BOOK,
    "trade_snapshot": TRADE,
    TRADE: TRADE,
    TICKER: TICKER,
    TICKER_LITE: TICKER_LITE,
    HEARTBEAT: HEARTBEAT,
}
# Private feeds need the challenge flow; the market-data parser reports them unsupported.
PRIVATE_FEEDS: Final = frozenset(
    {
        "open_orders",
        "open_orders_snapshot",
        "open_orders_verbose",
        "open_orders_verbose_snapshot",
        "open_position",
        "balances",
        "balances_snapshot",
        "fills",
        "fills_snapshot",
        "account_log",
        "account_log_snapshot",
        "notifications_auth",
    }
)
CONTROL_EVENTS: Final = frozenset(
    {
        "info",
        "subscribe",
        "unsubscribe",
        "subscribed",
        "subscribed_failed",
        "unsubscribed",
        "unsubscribed_failed",
        "error",
        "alert",
        "challenge",
    }
)

# Error messages of the server (KF-DOCS; wording of the last two unverified).
ERROR_JSON: Final = "Json Error"
ERROR_INVALID_PRODUCT: Final = "Invalid product id"
ERROR_INVALID_FEED: Final = "Invalid feed"

PING_INTERVAL_MAX_S: Final = 60.0
"""The server closes a connection that sent nothing for this long; clients ping sooner."""
REQUESTS_PER_S_MAX: Final = 100
"""WebSocket requests per second a client may send."""

NS_PER_MS: Final = 1_000_000
