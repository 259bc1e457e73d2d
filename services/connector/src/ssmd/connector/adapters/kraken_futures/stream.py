"""The Kraken Futures WebSocket v1 session, client side (one instance per socket).

After connecting: subscribe ``heartbeat`` (so a quiet market still keeps the socket
audible to the watchdog) and each configured feed for this shard's products, at most
`PRODUCTS_PER_REQUEST` per request. The venue acknowledges each product separately
(``subscribed``, upper-case id); the session counts as subscribed once every (feed, product)
is acknowledged. A book re-snapshot is ``unsubscribe`` + ``subscribe`` of ``book`` for one
product: the venue answers the new subscription with a fresh ``book_snapshot``.

Keep-alive: the venue closes a socket silent for 60 s; WebSocket pings (sent by the
session every ``ping_interval_s``) suffice, so there is no application-level ping.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

from ssmd.connector.adapters._template import StreamActions, VenueStream
from ssmd.connector.adapters.kraken_futures.config import BOOK_FEED, HEARTBEAT_FEED
from ssmd.connector.adapters.kraken_futures.schemas import (
    AlertMsg,
    ErrorMsg,
    InfoMsg,
    SubscribedFailedMsg,
    SubscribedMsg,
    UnsubscribedMsg,
)
from ssmd.contracts.symbols import split_market_id
from ssmd.venues.kraken_futures import requests

log = logging.getLogger(__name__)

PRODUCTS_PER_REQUEST: Final = 100
"""Products per subscribe request: keeps each request small (a few KB)."""
_LOGGED_PROBLEMS: Final = 20  # venue errors/refusals logged per session before going quiet


class KrakenFuturesStream(VenueStream):
    """Subscription state of one Kraken Futures socket; see module doc."""

    def __init__(self, symbols: Sequence[str], channels: Sequence[str]) -> None:
        self._symbols = list(symbols)
        self._channels = list(channels)
        self._expected = {(feed, symbol) for feed in self._channels for symbol in symbols}
        self._acked: set[tuple[str, str]] = set()
        self.venue_errors: list[str] = []
        self._problems_logged = 0

    def subscribe_requests(self) -> list[bytes]:
        step = PRODUCTS_PER_REQUEST
        chunks = [
            self._symbols[start : start + step] for start in range(0, len(self._symbols), step)
        ]
        return [requests.subscribe(HEARTBEAT_FEED)] + [
            requests.subscribe(feed, chunk) for feed in self._channels for chunk in chunks
        ]

    def resnapshot_requests(self, market: str) -> list[bytes]:
        _, symbol = split_market_id(market)
        return [requests.unsubscribe(BOOK_FEED, [symbol]), requests.subscribe(BOOK_FEED, [symbol])]

    @property
    def subscribed(self) -> bool:
        return self._expected <= self._acked

    def subscription_state(self) -> str:
        missing = sorted(self._expected - self._acked)
        if not missing:
            return "subscribed"
        shown = ", ".join(f"{feed}:{symbol}" for feed, symbol in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        return (
            f"{len(self._expected) - len(missing)}/{len(self._expected)} subscriptions "
            f"acknowledged; waiting for {shown}{more}"
        )

    def add_markets(self, symbols: Sequence[str]) -> list[bytes]:
        """Subscribe every feed of the new products (acks tracked as at start)."""
        new = [symbol for symbol in symbols if symbol not in self._symbols]
        self._symbols.extend(new)
        self._expected |= {(feed, symbol) for feed in self._channels for symbol in new}
        step = PRODUCTS_PER_REQUEST
        return [
            requests.subscribe(feed, new[start : start + step])
            for feed in self._channels
            for start in range(0, len(new), step)
        ]

    def drop_markets(self, symbols: Sequence[str]) -> list[bytes]:
        gone = [symbol for symbol in symbols if symbol in self._symbols]
        self._symbols = [symbol for symbol in self._symbols if symbol not in set(gone)]
        self._expected -= {(feed, symbol) for feed in self._channels for symbol in gone}
        return [requests.unsubscribe(feed, gone) for feed in self._channels] if gone else []

    def on_control(self, control: object) -> StreamActions | None:
        if isinstance(control, SubscribedMsg):
            for product in control.product_ids or ():
                self._acked.add((control.feed or "", product.upper()))
        elif isinstance(control, UnsubscribedMsg):
            for product in control.product_ids or ():
                self._acked.discard((control.feed or "", product.upper()))
        elif isinstance(control, SubscribedFailedMsg):
            self._problem(
                f"subscribe refused: feed {control.feed} {control.product_ids}: {control.message}"
            )
        elif isinstance(control, ErrorMsg):
            self._problem(f"venue error: {control.message}")
        elif isinstance(control, AlertMsg):
            self._problem(f"venue alert: {control.message}")
        elif isinstance(control, InfoMsg):
            log.debug("venue protocol version %s", control.version)
        return None

    def _problem(self, text: str) -> None:
        if len(self.venue_errors) < _LOGGED_PROBLEMS:
            self.venue_errors.append(text)
            log.warning(text, extra={"venue": "kraken_futures"})
