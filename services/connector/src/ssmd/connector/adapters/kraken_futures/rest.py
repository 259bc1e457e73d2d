"""Kraken Futures market discovery: ``GET <rest_url>/instruments``.

The body is decoded by ``ssmd.venues.kraken_futures.rest`` (which also turns a venue error
code into a retryable or permanent error); this module does the HTTP (`_http.get_body`,
whose errors carry the retry decision) and keeps what a WebSocket can subscribe: tradeable
perpetuals and fixed maturities (not indices).
"""

from __future__ import annotations

import aiohttp

from ssmd.connector.adapters._http import get_body
from ssmd.connector.adapters.kraken_futures.config import SUBSCRIBABLE_KINDS
from ssmd.venues.kraken_futures.rest import parse_instruments


async def fetch_instruments_body(
    http: aiohttp.ClientSession, rest_url: str, timeout_s: float
) -> bytes:
    return await get_body(http, f"{rest_url}/instruments", timeout_s)


async def discover_symbols(
    http: aiohttp.ClientSession, rest_url: str, timeout_s: float
) -> list[str]:
    """Symbols of every tradeable product with WebSocket feeds, in the venue's order."""
    body = await fetch_instruments_body(http, rest_url, timeout_s)
    return [
        instrument.symbol
        for instrument in parse_instruments(body)
        if instrument.tradeable and instrument.kind in SUBSCRIBABLE_KINDS
    ]
