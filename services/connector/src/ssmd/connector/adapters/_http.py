"""One GET for adapters' REST hooks: the body, or an error typed for the retry decision.

5xx and 429 are `UnavailableError` (retry later), other 4xx `PermanentError` (the URL or
the request is wrong), transport failures `UnavailableError`. Adapters decode the body
with their venue library, which raises its own errors for a bad body.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from ssmd.core.errors import PermanentError, UnavailableError


async def get_body(
    http: aiohttp.ClientSession,
    url: str,
    timeout_s: float,
    params: Mapping[str, str] | None = None,
) -> bytes:
    """``GET url?params`` -> the body of a 2xx answer; see module doc for errors."""
    try:
        async with http.get(
            url, params=params, timeout=aiohttp.ClientTimeout(total=timeout_s)
        ) as answer:
            if answer.status >= 500 or answer.status == 429:
                raise UnavailableError(f"GET {url}: HTTP {answer.status}")
            if answer.status >= 400:
                text = (await answer.text())[:200]
                raise PermanentError(f"GET {url}: HTTP {answer.status}: {text}")
            return await answer.read()
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise UnavailableError(f"GET {url}: {type(exc).__name__}: {exc}") from exc
