"""Polymarket markets from the CLOB REST API: discovery and token lookup.

Discovery pages through ``GET <rest_url>/markets?next_cursor=`` (the last page says
``LTE=``) and keeps binary markets that trade now (active, not closed, accepting orders,
with an order book); each market's YES/NO tokens go into the adapter's `TokenIndex`.
A market named explicitly (configuration, a runtime add) is looked up with
``GET <rest_url>/markets/<condition_id>``. Bodies are decoded by
``ssmd.venues.polymarket.rest``; HTTP errors carry the retry decision (`_http.get_body`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

import aiohttp

from ssmd.connector.adapters._http import get_body
from ssmd.core.errors import PermanentError
from ssmd.venues.polymarket.rest import ClobMarket, parse_clob_market, parse_clob_markets_page
from ssmd.venues.polymarket.tokens import MarketTokens, TokenIndex

log = logging.getLogger(__name__)

MAX_PAGES: Final = 10_000
"""A venue that never ends its cursor must not keep a connector paging forever."""


def _tradeable(market: ClobMarket) -> MarketTokens | None:
    if market.closed or market.active is False or market.accepting_orders is False:
        return None
    return market.tokens()


async def discover(
    http: aiohttp.ClientSession, rest_url: str, timeout_s: float, index: TokenIndex
) -> list[str]:
    """Condition ids of every tradeable binary market; their tokens are added to `index`."""
    found: list[str] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        params = {"next_cursor": cursor} if cursor else None
        markets, cursor = parse_clob_markets_page(
            await get_body(http, f"{rest_url}/markets", timeout_s, params)
        )
        for market in markets:
            tokens = _tradeable(market)
            if tokens is not None:
                index.add(tokens)
                found.append(tokens.condition_id)
        if cursor is None:
            break
    return found


async def look_up(
    http: aiohttp.ClientSession,
    rest_url: str,
    timeout_s: float,
    index: TokenIndex,
    condition_ids: Sequence[str],
) -> list[str]:
    """The condition ids whose tokens are known (looked up where the index lacks them)."""
    known: list[str] = []
    for condition_id in condition_ids:
        if index.market_of(condition_id) is None:
            try:
                body = await get_body(http, f"{rest_url}/markets/{condition_id}", timeout_s)
            except PermanentError as exc:  # 404: no such market
                log.warning("unknown Polymarket market %s: %s", condition_id, exc)
                continue
            tokens = parse_clob_market(body).tokens()
            if tokens is None:
                log.warning("Polymarket market %s has no YES/NO order book", condition_id)
                continue
            index.add(tokens)
        known.append(condition_id)
    return known
