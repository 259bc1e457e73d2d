"""Kalshi market discovery: ``GET <rest_url>/markets`` page by page (``cursor``).

Public market data needs no signature. Markets not yet closed (``status`` open, unopened,
paused) are listed, each status a separate paged query, at most `PAGE_LIMIT` per page (the
venue's maximum); bodies are decoded by ``ssmd.venues.kalshi.rest``. HTTP errors carry the
retry decision (`_http.get_body`).
"""

from __future__ import annotations

from typing import Final

import aiohttp

from ssmd.connector.adapters._http import get_body
from ssmd.connector.adapters.kalshi.config import LISTED_STATUSES
from ssmd.venues.kalshi.rest import parse_markets

PAGE_LIMIT: Final = 1000
MAX_PAGES: Final = 10_000
"""A venue that never ends its cursor must not keep a connector paging forever."""


async def discover_tickers(
    http: aiohttp.ClientSession, rest_url: str, timeout_s: float
) -> list[str]:
    """Tickers of every market not yet closed, in the venue's order, without repeats."""
    tickers: dict[str, None] = {}
    for status in LISTED_STATUSES:
        cursor = ""
        for _ in range(MAX_PAGES):
            params = {"status": status, "limit": str(PAGE_LIMIT)}
            if cursor:
                params["cursor"] = cursor
            page = parse_markets(await get_body(http, f"{rest_url}/markets", timeout_s, params))
            tickers.update(dict.fromkeys(market.ticker for market in page.items))
            cursor = page.cursor or ""
            if not cursor:
                break
    return list(tickers)
