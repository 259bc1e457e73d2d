"""Polymarket constants: venue name, endpoints, message types, limits.

Sources are in shared/VENUES.md section 3 (PM-DOCS, asyncapi.json, nautilus_trader); values
here are the ones the connector, the OMS adapter and the simulator must agree on.
"""

from __future__ import annotations

from typing import Final

VENUE: Final = "polymarket"

WS_MARKET_PATH: Final = "/ws/market"
WS_USER_PATH: Final = "/ws/user"
WS_URL: Final = "wss://ws-subscriptions-clob.polymarket.com" + WS_MARKET_PATH
CLOB_REST_URL: Final = "https://clob.polymarket.com"
GAMMA_REST_URL: Final = "https://gamma-api.polymarket.com"

# Keep-alive: the client sends the text PING about every 10 s; the server answers PONG.
PING: Final = b"PING"
PONG: Final = b"PONG"
NO_NEW_ASSETS: Final = b"NO NEW ASSETS"

# Market channel `event_type`s.
BOOK: Final = "book"
PRICE_CHANGE: Final = "price_change"
LAST_TRADE_PRICE: Final = "last_trade_price"
TICK_SIZE_CHANGE: Final = "tick_size_change"
BEST_BID_ASK: Final = "best_bid_ask"
NEW_MARKET: Final = "new_market"
MARKET_RESOLVED: Final = "market_resolved"
CUSTOM_EVENT_TYPES: Final = frozenset({BEST_BID_ASK, NEW_MARKET, MARKET_RESOLVED})
"""Sent only to subscriptions with ``custom_feature_enabled: true``."""

MAX_ASSETS_PER_CONNECTION: Final = 200
"""Asset ids the connector puts on one socket. The venue's cap is unpublished (third-party
notes say 500; nautilus_trader keeps 200), so this stays well below it."""
YES: Final = "Yes"
NO: Final = "No"
"""Outcome names of a binary market's two tokens, as Gamma and the CLOB print them."""

MARKET_EVENT_TYPES: Final = frozenset(
    {
        BOOK,
        PRICE_CHANGE,
        LAST_TRADE_PRICE,
        TICK_SIZE_CHANGE,
        BEST_BID_ASK,
        NEW_MARKET,
        MARKET_RESOLVED,
    }
)
"""Every market-channel `event_type` the parser reads."""
USER_EVENT_TYPES: Final = frozenset({"order", "trade"})
"""User-channel `event_type`s: not market data; the market parser reports them unsupported."""

CLOB_END_CURSOR: Final = "LTE="
"""`next_cursor` of the last page of CLOB `GET /markets` (base64 of "-1")."""
