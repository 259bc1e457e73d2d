"""`RestClient` and `TokenBucket`: retries by answer, Retry-After, permanent errors, rate."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from ssmd.core.clock import LiveClock, SimulatedClock
from ssmd.core.errors import UnavailableError
from ssmd.secmaster.sync.http import (
    MAX_RETRY_AFTER_S,
    RestBusyError,
    RestClient,
    RestRejectedError,
    TokenBucket,
    retry_after_s,
)
from ssmd.venues.errors import MalformedFrame
from ssmd.venues.kraken_futures.rest import parse_instruments

INSTRUMENTS = (
    b'{"result":"success","instruments":[{"symbol":"PF_XBTUSD","type":"flexible_futures"}]}'
)


class RecordingClock(LiveClock):
    """Real time, but sleeping only records how long (and yields once)."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0)


Answer = tuple[int, bytes, dict[str, str]]


@pytest.fixture
def venue(stub_servers: Any) -> Callable[..., Any]:
    """``url, seen = await venue([answers...])``: a path answering each GET in turn."""

    async def serve(answers: list[Answer]) -> tuple[str, list[str]]:
        seen: list[str] = []

        async def handler(request: web.Request) -> web.Response:
            seen.append(request.path_qs)
            status, body, headers = answers[min(len(seen), len(answers)) - 1]
            return web.Response(status=status, body=body, headers=headers)

        app = web.Application()
        app.router.add_get("/api/instruments", handler)
        url = await stub_servers(app)
        return f"{url}/api/instruments", seen

    return serve


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def client(http: aiohttp.ClientSession, clock: Any, attempts: int = 4) -> RestClient:
    return RestClient(
        http, venue="kraken_futures", clock=clock, requests_per_s=1000.0, timeout_s=5.0,
        attempts=attempts,
    )  # fmt: skip


async def test_a_429_is_retried_no_sooner_than_its_retry_after(
    http: aiohttp.ClientSession, venue: Any
) -> None:
    url, seen = await venue([(429, b"slow down", {"Retry-After": "7"}), (200, INSTRUMENTS, {})])
    clock = RecordingClock()

    instruments = await client(http, clock).get(url, {"a": "1"}, parse=parse_instruments)

    assert [i.symbol for i in instruments] == ["PF_XBTUSD"]
    assert seen == ["/api/instruments?a=1", "/api/instruments?a=1"]
    assert clock.sleeps == [7.0]


async def test_server_errors_are_retried_with_capped_backoff_then_raised(
    http: aiohttp.ClientSession, venue: Any
) -> None:
    url, seen = await venue([(503, b"", {})])
    clock = RecordingClock()

    with pytest.raises(RestBusyError, match="HTTP 503") as caught:
        await client(http, clock, attempts=4).get(url, None, parse=parse_instruments)

    assert caught.value.status == 503
    assert len(seen) == 4
    assert len(clock.sleeps) == 3
    assert all(0 < delay <= 15.0 for delay in clock.sleeps)


async def test_a_4xx_is_permanent_and_names_the_url(
    http: aiohttp.ClientSession, venue: Any
) -> None:
    url, seen = await venue([(404, b'{"error":"no such thing"}', {})])

    with pytest.raises(RestRejectedError) as caught:
        await client(http, RecordingClock()).get(url, {"cursor": "x"}, parse=parse_instruments)

    assert len(seen) == 1
    assert caught.value.status == 404
    assert caught.value.url == f"{url}?cursor=x"
    assert f"GET {url}?cursor=x: HTTP 404" in str(caught.value)
    assert "no such thing" in str(caught.value)


async def test_a_temporary_venue_error_in_the_body_is_retried(
    http: aiohttp.ClientSession, venue: Any
) -> None:
    busy = b'{"result":"error","error":"apiLimitExceeded","serverTime":"2024-01-01T00:00:00Z"}'
    url, seen = await venue([(200, busy, {}), (200, INSTRUMENTS, {})])

    instruments = await client(http, RecordingClock()).get(url, None, parse=parse_instruments)

    assert len(seen) == 2
    assert instruments[0].symbol == "PF_XBTUSD"


async def test_a_malformed_body_is_not_retried(http: aiohttp.ClientSession, venue: Any) -> None:
    url, seen = await venue([(200, b"{not json", {})])

    with pytest.raises(MalformedFrame):
        await client(http, RecordingClock()).get(url, None, parse=parse_instruments)

    assert len(seen) == 1


async def test_an_unreachable_venue_is_unavailable_after_every_attempt(
    http: aiohttp.ClientSession,
) -> None:
    clock = RecordingClock()
    rest = client(http, clock, attempts=2)

    with pytest.raises(UnavailableError, match=r"127\.0\.0\.1:9"):
        await rest.get("http://127.0.0.1:9/instruments", None, parse=parse_instruments)

    assert rest.requests == 2
    assert len(clock.sleeps) == 1


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2025, 11, 24, 16, 0, tzinfo=UTC)
    now_ns = int(now.timestamp()) * 1_000_000_000
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)

    assert retry_after_s("120", now_ns) == 120.0
    assert retry_after_s(later, now_ns) == 30.0
    assert retry_after_s(format_datetime(now - timedelta(seconds=5), usegmt=True), now_ns) == 0
    assert retry_after_s("soon", now_ns) is None
    assert retry_after_s(None, now_ns) is None


async def test_a_huge_retry_after_is_capped(http: aiohttp.ClientSession, venue: Any) -> None:
    url, _ = await venue([(429, b"", {"Retry-After": "86400"}), (200, INSTRUMENTS, {})])
    clock = RecordingClock()

    await client(http, clock).get(url, None, parse=parse_instruments)

    assert clock.sleeps == [MAX_RETRY_AFTER_S]


async def test_token_bucket_spaces_requests_at_the_rate_after_a_burst() -> None:
    clock = SimulatedClock(start_ns=1)
    bucket = TokenBucket(2.0, clock)  # 2 per second, bursts of 2
    done: list[int] = []

    async def take(n: int) -> None:
        await bucket.acquire()
        done.append(n)

    tasks = [asyncio.create_task(take(n)) for n in range(5)]
    await asyncio.sleep(0.01)
    assert done == [0, 1]
    for expected in ([0, 1, 2], [0, 1, 2, 3], [0, 1, 2, 3, 4]):
        clock.advance(0.5)
        await asyncio.sleep(0.01)
        assert done == expected
    await asyncio.gather(*tasks)


async def test_token_bucket_rate_against_the_live_clock() -> None:
    bucket = TokenBucket(50.0, LiveClock(), burst=1)
    started = time.perf_counter()
    for _ in range(11):
        await bucket.acquire()
    assert time.perf_counter() - started >= 0.19  # 10 waits of 1/50 s
