"""`RestClient`: the one rate-limited, retrying GET that every venue sync uses.

Each venue gets its own client and so its own token bucket (`TokenBucket`: at most
``rest_requests_per_s`` requests per second, bursts of one second's worth). An answer is
judged by its status first: 429 and 5xx are `RestBusyError` (temporary; a ``Retry-After``
header, in seconds or as an HTTP date, sets the least wait before the next try), other 4xx
`RestRejectedError` (permanent, naming the URL), transport failures and timeouts
`UnavailableError`. A 2xx body goes through the caller's `parse` inside the same attempt,
so a venue error the parser reports as temporary (Kraken's ``apiLimitExceeded``,
`VenueBusyError`) is retried like a 429. Retries use `ssmd.core.retry` (capped exponential
backoff with jitter) for ``rest_attempts`` attempts in all; the last error propagates.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Final, TypeVar
from urllib.parse import urlencode

import aiohttp

from ssmd.core.clock import NS_PER_S, Clock
from ssmd.core.errors import PermanentError, TemporaryError, UnavailableError
from ssmd.core.retry import Backoff, retry_async

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_RETRY_AFTER_S: Final = 60.0
"""A venue's Retry-After is honoured up to this many seconds (a bad header cannot park us)."""
DEFAULT_BACKOFF: Final = Backoff(initial_s=0.5, max_s=15.0)
_SHOWN_BODY_CHARS: Final = 200
_HTTP_TOO_MANY_REQUESTS: Final = 429
_HTTP_CLIENT_ERROR: Final = 400
_HTTP_SERVER_ERROR: Final = 500


class RestBusyError(TemporaryError):
    """The venue answered 429 or 5xx: retry later (not before `retry_after_s`, if given)."""

    def __init__(self, message: str, *, status: int, retry_after_s: float | None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


class RestRejectedError(PermanentError):
    """The venue refused the request (a 4xx other than 429): the same GET cannot succeed."""

    def __init__(self, message: str, *, url: str, status: int) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class TokenBucket:
    """At most `rate_per_s` acquisitions per second on average, bursts of `burst`."""

    def __init__(self, rate_per_s: float, clock: Clock, *, burst: float | None = None) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be > 0")
        self._rate_per_s = rate_per_s
        self._capacity = burst if burst is not None else max(1.0, rate_per_s)
        self._tokens = self._capacity
        self._clock = clock
        self._last_ns = clock.monotonic_ns()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now_ns = self._clock.monotonic_ns()
        elapsed_s = (now_ns - self._last_ns) / NS_PER_S
        self._last_ns = now_ns
        self._tokens = min(self._capacity, self._tokens + elapsed_s * self._rate_per_s)

    async def acquire(self) -> None:
        """Wait for a token and take it (callers are served in arrival order)."""
        async with self._lock:
            self._refill()
            while self._tokens < 1:
                await self._clock.sleep((1 - self._tokens) / self._rate_per_s)
                self._refill()
            self._tokens -= 1


def retry_after_s(header: str | None, now_ns: int) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta seconds or HTTP date), or None."""
    if not header:
        return None
    text = header.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - now_ns / NS_PER_S)


def display_url(url: str, params: Mapping[str, str] | None) -> str:
    """`url` with its query, as errors and logs name it."""
    return f"{url}?{urlencode(params)}" if params else url


class RestClient:
    """Rate-limited GETs to one venue; see module doc."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        *,
        venue: str,
        clock: Clock,
        requests_per_s: float,
        timeout_s: float,
        attempts: int,
        backoff: Backoff = DEFAULT_BACKOFF,
    ) -> None:
        self.venue = venue
        self.requests = 0
        self._http = http
        self._clock = clock
        self._bucket = TokenBucket(requests_per_s, clock)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._attempts = attempts
        self._backoff = backoff

    async def get(
        self, url: str, params: Mapping[str, str] | None, *, parse: Callable[[bytes], T]
    ) -> T:
        """``GET url?params`` parsed by `parse`, retried as the module doc says."""
        shown = display_url(url, params)
        wait_at_least_s = 0.0

        async def attempt() -> T:
            nonlocal wait_at_least_s
            try:
                body = await self._get_once(url, params, shown)
            except RestBusyError as exc:
                wait_at_least_s = min(exc.retry_after_s or 0.0, MAX_RETRY_AFTER_S)
                raise
            return parse(body)

        async def sleep(delay_s: float) -> None:
            nonlocal wait_at_least_s
            wait_s, wait_at_least_s = max(delay_s, wait_at_least_s), 0.0
            await self._clock.sleep(wait_s)

        return await retry_async(
            attempt,
            backoff=self._backoff,
            max_attempts=self._attempts,
            sleep=sleep,
            describe=f"{self.venue} GET {shown}",
        )

    async def _get_once(self, url: str, params: Mapping[str, str] | None, shown: str) -> bytes:
        await self._bucket.acquire()
        self.requests += 1
        try:
            async with self._http.get(url, params=params, timeout=self._timeout) as answer:
                status = answer.status
                if status == _HTTP_TOO_MANY_REQUESTS or status >= _HTTP_SERVER_ERROR:
                    wait_s = retry_after_s(answer.headers.get("Retry-After"), self._clock.now_ns())
                    raise RestBusyError(
                        f"GET {shown}: HTTP {status}", status=status, retry_after_s=wait_s
                    )
                if status >= _HTTP_CLIENT_ERROR:
                    text = (await answer.text(errors="replace"))[:_SHOWN_BODY_CHARS]
                    raise RestRejectedError(
                        f"GET {shown}: HTTP {status}: {text}", url=shown, status=status
                    )
                return await answer.read()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise UnavailableError(f"GET {shown}: {type(exc).__name__}: {exc}") from exc
