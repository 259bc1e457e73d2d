"""Kraken Futures market discovery: ``GET <rest_url>/instruments``.

The body is decoded by ``ssmd.venues.kraken_futures.rest`` (which also turns a venue error
code into a retryable or permanent error); this module does the HTTP and keeps what a
WebSocket can subscribe: tradeable perpetuals and fixed maturities (not indices).
Transport failures become `UnavailableError` so the caller's retry decides by type.
"""

from __future__ import annotations

import aiohttp

from ssmd.connector.adapters.kraken_futures.config import SUBSCRIBABLE_KINDS
from ssmd.core.errors import PermanentError, UnavailableError
from ssmd.venues.kraken_futures.rest import parse_instruments


async def fetch_instruments_body(
    http: aiohttp.ClientSession, rest_url: str, timeout_s: float
) -> bytes:
    url = f"{rest_url}/instruments"
    try:
        async with http.get(url, timeout=aiohttp.ClientTimeout(total=timeout_s)) as answer:
            if answer.status >= 500 or answer.status == 429:
                raise UnavailableError(f"GET {url}: HTTP {answer.status}")
            if answer.status >= 400:
                raise PermanentError(f"GET {url}: HTTP {answer.status} (is rest_url right?)")
            return await answer.read()
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise UnavailableError(f"GET {url}: {type(exc).__name__}: {exc}") from exc


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
