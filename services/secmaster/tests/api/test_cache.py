"""The lookup cache: read-through from Postgres into Valkey, invalidated by SECMASTER records."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest
import valkey.asyncio as valkey
from prometheus_client import CollectorRegistry

from ssmd.db import Pool
from ssmd.secmaster.cache import GEN_KEY, Cached, LookupCache, market_key, market_of_subject
from ssmd.secmaster.metrics import SecmasterMetrics

if TYPE_CHECKING:
    from conftest import Kit, SecmasterFactory

MARKET = "kalshi:KXBTCD-25NOV30-T100000"


@pytest.fixture
async def store(valkey_url: str) -> AsyncIterator[valkey.Valkey]:
    """A plain client on the test's Valkey, to look at what the cache wrote."""
    client = valkey.Valkey.from_url(valkey_url)
    yield client
    await client.aclose()


def test_the_market_of_a_reference_subject_is_read_back_from_its_token() -> None:
    assert market_of_subject("ref.kalshi.updated.KXHIGHNY-25NOV30-B53~2E5") == (
        "kalshi:KXHIGHNY-25NOV30-B53.5"
    )
    assert market_of_subject("ref.kalshi.updated") is None
    assert market_of_subject("md.kalshi.updated.X") is None
    assert market_of_subject("ref.kalshi.updated.bad~zz") is None


async def test_a_fill_is_refused_when_an_invalidation_ran_since_the_read(
    valkey_url: str, store: valkey.Valkey
) -> None:
    metrics = SecmasterMetrics(CollectorRegistry())
    cache = LookupCache(valkey_url, ttl_s=60, metrics=metrics)
    try:
        read = await cache.read(market_key(MARKET))
        assert read == Cached(None, "")
        await cache.invalidate([MARKET])  # a change committed while the reader read
        await cache.fill(market_key(MARKET), read, b"old answer")
        assert await store.get(market_key(MARKET)) is None
        fresh = await cache.read(market_key(MARKET))
        assert fresh.generation == "1"
        await cache.fill(market_key(MARKET), fresh, b"new answer")
        assert (await cache.read(market_key(MARKET))).value == b"new answer"
    finally:
        await cache.close()


async def test_an_unreachable_cache_is_a_miss_not_an_error() -> None:
    metrics = SecmasterMetrics(CollectorRegistry())
    cache = LookupCache("redis://127.0.0.1:1/0", ttl_s=60, metrics=metrics)
    try:
        read = await cache.read(market_key(MARKET))
        assert read == Cached(None, None)
        await cache.fill(market_key(MARKET), read, b"x")  # nothing to do, nothing raised
        assert isinstance(await cache.ready(), str)
    finally:
        await cache.close()


async def test_a_miss_reads_postgres_and_fills_valkey_with_a_ttl_then_hits(
    pool: Pool, secmasters: SecmasterFactory, kit: type[Kit], store: valkey.Valkey
) -> None:
    await kit.apply(pool, "kalshi", [kit.market("kalshi", MARKET[7:], title="BTC above 100k")])
    running = await secmasters(cache_ttl_s=120)
    await running.settle(pool)
    status, body = await running.get(f"/v1/markets/{MARKET}")
    assert status == 200
    assert body["title"] == "BTC above 100k"
    assert running.metric("ssmd_secmaster_cache_total", result="miss") == 1
    ttl_ms = await store.pttl(market_key(MARKET))
    assert 0 < ttl_ms <= 120_000
    # Change Postgres behind the secmaster's back (no outbox row): the cache still answers.
    await pool.execute('UPDATE markets SET record = record || \'{"title": "sneaky"}\'')
    status, body = await running.get(f"/v1/markets/{MARKET}")
    assert (status, body["title"]) == (200, "BTC above 100k")
    assert running.metric("ssmd_secmaster_cache_total", result="hit") == 1


async def test_a_change_record_on_secmaster_invalidates_the_market_and_list_pages(
    pool: Pool, secmasters: SecmasterFactory, kit: type[Kit], store: valkey.Valkey
) -> None:
    symbol = MARKET[7:]
    await kit.apply(pool, "kalshi", [kit.market("kalshi", symbol, title="first")])
    running = await secmasters()
    await running.settle(pool)
    assert (await running.get(f"/v1/markets/{MARKET}"))[1]["version"] == 1
    page = await running.get("/v1/markets", venue="kalshi")
    assert page[1]["markets"][0]["title"] == "first"
    assert await store.exists(market_key(MARKET))
    await kit.apply(pool, "kalshi", [kit.market("kalshi", symbol, title="second")])

    async def dropped() -> bool:
        return not await store.exists(market_key(MARKET))

    await kit.eventually(dropped, "the change to invalidate the cached market")
    status, body = await running.get(f"/v1/markets/{MARKET}")
    assert (status, body["version"], body["title"]) == (200, 2, "second")
    page = await running.get("/v1/markets", venue="kalshi")
    assert page[1]["markets"][0]["title"] == "second"
    assert int(await store.get(GEN_KEY)) >= 1
    assert running.metric("ssmd_secmaster_cache_invalidations_total") >= 1


async def test_a_token_lookup_is_invalidated_with_its_market(
    pool: Pool, secmasters: SecmasterFactory, kit: type[Kit], store: valkey.Valkey
) -> None:
    condition = "0xabc123"
    tokens = (("111", "Yes", True), ("222", "No", False))
    await kit.apply(
        pool, "polymarket", [kit.market("polymarket", condition, title="a", tokens=tokens)]
    )
    running = await secmasters()
    await running.settle(pool)
    assert (await running.get("/v1/markets/polymarket:111"))[1]["title"] == "a"
    assert (await running.get("/v1/markets/222"))[1]["title"] == "a"  # a bare token id
    assert await store.exists(market_key("polymarket:111"), market_key("222")) == 2
    await kit.apply(
        pool, "polymarket", [kit.market("polymarket", condition, title="b", tokens=tokens)]
    )

    async def dropped() -> bool:
        return not await store.exists(market_key("polymarket:111"), market_key("222"))

    await kit.eventually(dropped, "the change to invalidate the token's cached market")
    assert (await running.get("/v1/markets/polymarket:111"))[1]["title"] == "b"
    assert (await running.get("/v1/markets/222"))[1]["title"] == "b"
