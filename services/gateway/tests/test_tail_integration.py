"""The live side over real NATS: unarchived trades in /v1/trades, dedup, /v1/feeds health."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from ssmd.bus import Bus, BusSettings, Publisher, StreamSpec, connect, provision
from ssmd.contracts.events import (
    BookDelta,
    Gap,
    LevelChange,
    MarketEvent,
    Quote,
    channel_of,
    encode_event,
    event_msg_id,
)
from ssmd.contracts.subjects import md_stream, md_subject

pytestmark = pytest.mark.integration

VENUE = "kraken_futures"
MARKET = "kraken_futures:PF_XBTUSD"
OTHER = "kraken_futures:PF_ETHUSD"
S = 1_000_000_000


@pytest.fixture
def env() -> str:
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
async def md_bus(nats_url: str, env: str) -> Any:
    bus = await connect(BusSettings(urls=(nats_url,), name="gateway-test-publisher"))
    stream = md_stream(env, VENUE)
    await provision(bus, streams=[StreamSpec(stream.name, stream.subjects, storage="memory")])
    try:
        yield bus
    finally:
        await bus.close()


async def publish(bus: Bus, env: str, *events: MarketEvent) -> None:
    async with Publisher(bus) as publisher:
        for event in events:
            subject = md_subject(env, event.venue, channel_of(event), 0, event.market)
            await publisher.publish(subject, encode_event(event), msg_id=event_msg_id(event))


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 15.0) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            if await check():
                return
            await asyncio.sleep(0.05)


async def test_unarchived_trades_come_from_the_tail_deduplicated_against_the_archive(
    running_gateway: Any, md_bus: Bus, env: str, archive_dir: Path, kit: Any
) -> None:
    now = time.time_ns()
    trades = [kit.trade(now - (10 - i) * S, seq=i, trade_id=f"x{i}") for i in range(6)]
    # The archiver has flushed the first four; JetStream still holds the last three of them
    # (published before the gateway starts, inside its tail window) and two newer ones.
    kit.write_archive(archive_dir, trades[:4])
    await publish(md_bus, env, *trades[1:5])
    gw = await running_gateway(env=env)
    params = {"market": MARKET, "start": now - 60 * S, "end": now + 60 * S}

    async def complete() -> bool:
        _, body, _ = await gw.get("/v1/trades", **params)
        return bool(body["count"] == 5)

    await eventually(complete)
    await publish(md_bus, env, trades[5])  # live, after the gateway started

    async def all_six() -> bool:
        _, body, _ = await gw.get("/v1/trades", **params)
        return bool(body["count"] == 6)

    await eventually(all_six)
    status, body, _ = await gw.get("/v1/trades", **params)
    assert status == 200
    assert [t["trade_id"] for t in body["trades"]] == [f"x{i}" for i in range(6)]
    assert body["sources"] == {"archive": 4, "tail": 2}


async def test_feeds_show_last_times_rates_gaps_and_lag(
    running_gateway: Any, md_bus: Bus, env: str, kit: Any
) -> None:
    gw = await running_gateway(env=env)
    now = time.time_ns()
    delay = 5_000_000  # the connector received each event 5 ms after the venue stamped it
    trades = [kit.trade(now - 3 * S + i, seq=i, recv_delay_ns=delay) for i in range(3)]
    quotes = [
        Quote(
            venue=VENUE,
            market=MARKET,
            ts_event_ns=now - 2 * S + i,
            ts_recv_ns=now - 2 * S + i + delay,
            bid_price="1",
            bid_size="2",
        )
        for i in range(2)
    ]
    delta = BookDelta(
        venue=VENUE,
        market=OTHER,
        ts_event_ns=now - S,
        ts_recv_ns=now - S + delay,
        changes=[LevelChange(side="bid", price="3000", size="1")],
    )
    gap = Gap(
        venue=VENUE,
        market=OTHER,
        ts_event_ns=now - S,
        ts_recv_ns=now - S + delay + 1,
        channel="book",
        reason="sequence gap",
        expected_seq=10,
        received_seq=12,
    )
    await publish(md_bus, env, *trades, *quotes, delta, gap)

    async def seen() -> bool:
        _, body, _ = await gw.get("/v1/feeds", venue=VENUE)
        return bool(body["count"] == 3 and body["feeds"][0]["events"] == 1)

    await eventually(seen)
    status, body, _ = await gw.get("/v1/feeds", venue=VENUE)
    assert status == 200
    rows = {(f["channel"], f["market"]): f for f in body["feeds"]}
    assert set(rows) == {("book", OTHER), ("quote", MARKET), ("trade", MARKET)}
    trade_row = rows[("trade", MARKET)]
    assert trade_row["events"] == 3
    assert trade_row["events_last_minute"] == 3
    assert trade_row["last_ts_event_ns"] == trades[-1].ts_event_ns
    assert trade_row["last_ts_recv_ns"] == trades[-1].ts_recv_ns
    assert trade_row["venue_delay_s"] == pytest.approx(0.005)
    assert 0 < trade_row["lag_s"] < 60
    assert trade_row["gaps"] == 0
    book_row = rows[("book", OTHER)]
    assert (book_row["events"], book_row["gaps"]) == (1, 1)
    assert book_row["last_gap"] is not None
    assert rows[("quote", MARKET)]["events_last_minute"] == 2
    [tail] = body["tails"]
    assert tail["venue"] == VENUE
    assert tail["state"] == "running"
    assert tail["caught_up"] is True
    assert tail["messages"] == 7
    _, only_book, _ = await gw.get("/v1/feeds", channel="book", market=OTHER)
    assert [f["market"] for f in only_book["feeds"]] == [OTHER]
    _, metrics = await gw.admin("/metrics")
    assert f'ssmd_gateway_tail_messages_total{{venue="{VENUE}"}} 7.0' in metrics
    assert f'ssmd_gateway_tail_lag_seconds{{venue="{VENUE}"}} 0.0' in metrics
