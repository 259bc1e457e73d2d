"""The Polymarket market-channel session, client side (one instance per socket).

After connecting: one ``{"assets_ids": [...], "type": "market", ...}`` frame with both
tokens (YES, NO) of every market of the socket, custom features on (best bid/ask,
``new_market``, ``market_resolved``) and the initial book dump. The venue sends no
acknowledgement, so the session counts as subscribed once that frame is sent. Markets are
added and dropped with ``{"operation": "subscribe"|"unsubscribe"}`` frames.

Keep-alive: a text ``PING`` every 10 s (the venue answers ``PONG``).

No sequence numbers: a lost ``price_change`` shows as a `BookMismatch` (the venue's best
bid/ask differ from the parser's YES book). The market then gets a Gap (``book``,
``book_mismatch``) and is re-subscribed (unsubscribe + subscribe), which makes the venue
send a fresh ``book``; further mismatches of that market are ignored for a few seconds
while the book is on its way. A resolved market is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Final

from ssmd.connector.adapters._template import GapNotice, StreamActions, VenueStream
from ssmd.connector.adapters.polymarket.config import PING_INTERVAL_NS, RESYNC_WAIT_NS
from ssmd.connector.adapters.polymarket.schemas import (
    BookMismatch,
    ControlBatch,
    Resolved,
    UnknownAsset,
)
from ssmd.venues.polymarket import requests
from ssmd.venues.polymarket.tokens import MarketTokens, TokenIndex, condition_id_of

log = logging.getLogger(__name__)

_LOGGED_PROBLEMS: Final = 20


class PolymarketStream(VenueStream):
    """Subscription state of one Polymarket market-channel socket; see module doc."""

    def __init__(
        self, symbols: Sequence[str], *, index: TokenIndex, market_id_of: Callable[[str], str]
    ) -> None:
        self._index = index
        self._market_id_of = market_id_of
        self._symbols = list(dict.fromkeys(symbols))
        self._sent = False
        self._next_ping_ns = 0
        self._resyncing: dict[str, int] = {}  # condition id -> until when mismatches wait
        self._now_ns = 0
        self.unknown_assets = 0
        self.venue_errors: list[str] = []

    def _tokens(self, symbols: Sequence[str]) -> list[str]:
        ids: list[str] = []
        for symbol in symbols:
            tokens: MarketTokens | None = self._index.market_of(symbol)
            if tokens is None:
                self._problem(f"no token ids known for market {symbol}; not subscribed")
                continue
            ids.extend(tokens.token_ids)
        return ids

    def subscribe_requests(self) -> list[bytes]:
        self._sent = True
        token_ids = self._tokens(self._symbols)
        return [requests.initial_subscribe(token_ids)] if token_ids else []

    @property
    def subscribed(self) -> bool:
        return self._sent  # the venue acknowledges nothing

    def add_markets(self, symbols: Sequence[str]) -> list[bytes]:
        new = [symbol for symbol in dict.fromkeys(symbols) if symbol not in self._symbols]
        self._symbols.extend(new)
        token_ids = self._tokens(new)
        return [requests.subscribe(token_ids)] if token_ids else []

    def drop_markets(self, symbols: Sequence[str]) -> list[bytes]:
        gone = [symbol for symbol in symbols if symbol in self._symbols]
        self._symbols = [symbol for symbol in self._symbols if symbol not in set(gone)]
        token_ids = self._tokens(gone)
        return [requests.unsubscribe(token_ids)] if token_ids else []

    def resnapshot_requests(self, market: str) -> list[bytes]:
        token_ids = self._tokens([condition_id_of(market)])
        if not token_ids:
            return []
        return [requests.unsubscribe(token_ids), requests.subscribe(token_ids)]

    def on_control(self, control: object) -> StreamActions | None:
        if not isinstance(control, ControlBatch):
            return None
        actions: StreamActions | None = None
        for entry in control.entries:
            if isinstance(entry, BookMismatch):
                actions = self._mismatch(entry, actions)
            elif isinstance(entry, Resolved):
                condition_id = condition_id_of(entry.market)
                if condition_id in self._symbols:
                    actions = actions or StreamActions()
                    actions.drop.append(condition_id)
            elif isinstance(entry, UnknownAsset):
                self.unknown_assets += 1
        return actions

    def _mismatch(self, entry: BookMismatch, actions: StreamActions | None) -> StreamActions | None:
        condition_id = condition_id_of(entry.market)
        if self._resyncing.get(condition_id, 0) > self._now_ns:
            return actions
        self._resyncing[condition_id] = self._now_ns + RESYNC_WAIT_NS
        actions = actions or StreamActions()
        actions.gaps.append(GapNotice(entry.market, "book", "book_mismatch"))
        actions.requests.extend(self.resnapshot_requests(entry.market))
        self._problem(
            f"book of {condition_id} disagrees with the venue (venue best "
            f"{entry.venue_best_bid}/{entry.venue_best_ask}, local "
            f"{entry.local_best_bid}/{entry.local_best_ask}); re-subscribing"
        )
        return actions

    def on_tick(self, now_ns: int) -> StreamActions | None:
        self._now_ns = now_ns
        if now_ns < self._next_ping_ns:
            return None
        self._next_ping_ns = now_ns + PING_INTERVAL_NS
        return StreamActions(requests=[requests.PING])

    def _problem(self, text: str) -> None:
        if len(self.venue_errors) < _LOGGED_PROBLEMS:
            self.venue_errors.append(text)
            log.warning(text, extra={"venue": "polymarket"})
