"""Kalshi constants: venue name, endpoints, channel names, error codes.

Sources are in shared/VENUES.md section 1 (K-ASYNC-04, K-OPENAPI, K-DOCS); values here are
the ones the connector, the OMS adapter and the simulator must agree on.
"""

from __future__ import annotations

from typing import Final

VENUE: Final = "kalshi"

WS_PATH: Final = "/trade-api/ws/v2"
REST_PATH: Final = "/trade-api/v2"
WS_URL: Final = "wss://api.elections.kalshi.com" + WS_PATH
WS_URL_DEMO: Final = "wss://demo-api.kalshi.co" + WS_PATH
REST_URL: Final = "https://api.elections.kalshi.com" + REST_PATH
REST_URL_DEMO: Final = "https://demo-api.kalshi.co" + REST_PATH

# Authentication headers (RSA-PSS signature of timestamp_ms + METHOD + path).
HEADER_KEY: Final = "KALSHI-ACCESS-KEY"
HEADER_TIMESTAMP: Final = "KALSHI-ACCESS-TIMESTAMP"
HEADER_SIGNATURE: Final = "KALSHI-ACCESS-SIGNATURE"

# WebSocket channels (the names sent in `subscribe`).
TICKER: Final = "ticker"
TRADE: Final = "trade"
ORDERBOOK: Final = "orderbook_delta"
LIFECYCLE: Final = "market_lifecycle_v2"
FILL: Final = "fill"
POSITIONS: Final = "market_positions"
PUBLIC_CHANNELS: Final = frozenset({TICKER, TRADE, ORDERBOOK, LIFECYCLE})
PRIVATE_CHANNELS: Final = frozenset({FILL, POSITIONS})
MARKET_CHANNELS: Final = frozenset({TICKER, TRADE, ORDERBOOK})
"""Channels a subscription filters by market ticker (lifecycle always covers all markets)."""

# Commands (the `cmd` of a client frame) and reply types.
SUBSCRIBE: Final = "subscribe"
UNSUBSCRIBE: Final = "unsubscribe"
UPDATE_SUBSCRIPTION: Final = "update_subscription"
LIST_SUBSCRIPTIONS: Final = "list_subscriptions"
ADD_MARKETS: Final = "add_markets"
DELETE_MARKETS: Final = "delete_markets"
GET_SNAPSHOT: Final = "get_snapshot"

HEARTBEAT_PAYLOAD: Final = b"heartbeat"
"""Payload of the venue's WebSocket ping frames (every 10 s)."""

# Error codes of `{"type":"error"}` replies (K-ASYNC-04 info.description).
ERROR_CODES: Final[dict[int, str]] = {
    1: "Unable to process message",
    2: "Params required",
    3: "Channels required",
    4: "Subscription IDs required",
    5: "Unknown command",
    6: "Already subscribed",
    7: "Unknown subscription ID",
    8: "Unknown channel name",
    9: "Authentication required",
    10: "Channel error",
    11: "Invalid parameter",
    12: "Exactly one subscription ID is required",
    13: "Unsupported action",
    14: "Market Ticker required",
    15: "Action required",
    16: "Market not found",
    17: "Internal error",
    18: "Command timeout",
    19: "shard_factor must be > 0",
    20: "shard_factor is required when shard_key is set",
    21: "shard_key must be >= 0 and < shard_factor",
    22: "shard_factor must be <= 100",
    23: "Match IDs required",
    24: "Index IDs required",
    25: "Subscription buffer overflow",
    26: "Subscription market limit exceeded",
    27: "Too many requests",
    28: "Underlying tickers required",
}
AUTH_REQUIRED: Final = 9
CHANNEL_ERROR: Final = 10
BUFFER_OVERFLOW: Final = 25
MARKET_LIMIT: Final = 26
RATE_LIMITED: Final = 27
TERMINAL_ERRORS: Final = frozenset({CHANNEL_ERROR, BUFFER_OVERFLOW})
"""Errors that end a subscription: the client must subscribe again."""
