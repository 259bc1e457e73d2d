"""Market lifecycle on the simulated Kalshi: messages, trading, REST status, the walk."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest

from ssmd.simulator.venue import LifecycleRequest

if TYPE_CHECKING:
    from conftest import Client, KalshiVenue, VenueFactory

pytestmark = pytest.mark.integration

NEW = "KXHIGHCHI-26NOV22-T40"
FED = "KXFED-26DEC-T4.00"


async def _lifecycle_messages(client: Client, count: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    while len(got) < count:
        message = await client.receive_json()
        if message["type"] in ("market_lifecycle_v2", "event_lifecycle"):
            got.append(message)
    return got


async def _status(venue: KalshiVenue, ticker: str) -> str:
    status, body = await venue.get(f"/markets/{ticker}")
    assert status == 200
    return str(body["market"]["status"])


async def _book_changes_during(venue: KalshiVenue, ticker: str, seconds: float) -> int:
    before = venue.exchange.markets[ticker].book_seq
    await asyncio.sleep(seconds)
    return venue.exchange.markets[ticker].book_seq - before


async def test_a_market_walks_from_created_to_settled(kalshi: VenueFactory) -> None:
    venue = await kalshi(events_per_s=3000.0)
    exchange = venue.exchange
    watcher = await venue.connect()
    await watcher.command("subscribe", {"channels": ["market_lifecycle_v2"]})
    await watcher.receive_json()

    answer = exchange.lifecycle(LifecycleRequest(product=NEW.lower(), action="create"))
    assert answer == {
        "product": NEW,
        "action": "create",
        "status": "active",
        "event_type": "created",
    }
    event, created = await _lifecycle_messages(watcher, 2)
    assert event["type"] == "event_lifecycle"
    assert event["msg"]["event_ticker"] == "KXHIGHCHI-26NOV22"
    assert (created["seq"], event["seq"]) == (2, 1)
    msg = created["msg"]
    assert msg["event_type"] == "created"
    assert msg["market_ticker"] == NEW
    assert msg["open_ts"] < msg["close_ts"]
    assert msg["additional_metadata"]["event_ticker"] == "KXHIGHCHI-26NOV22"
    assert msg["additional_metadata"]["floor_strike"] == 40
    assert await _status(venue, NEW) == "active"
    _, listed = await venue.get("/markets", event_ticker="KXHIGHCHI-26NOV22")
    assert [m["ticker"] for m in listed["markets"]] == [NEW]

    trader = await venue.connect()
    await trader.command("subscribe", {"channels": ["orderbook_delta"], "market_ticker": NEW})
    await trader.receive_until(lambda m: m["type"] == "orderbook_delta")  # it trades

    exchange.lifecycle(LifecycleRequest(product=NEW, action="pause"))
    (paused,) = await _lifecycle_messages(watcher, 1)
    assert paused["msg"] == {
        "market_ticker": NEW,
        "event_type": "deactivated",
        "is_deactivated": True,
    }
    await trader.drain(quiet_s=0.1)
    assert await _book_changes_during(venue, NEW, 0.2) == 0, "no book changes while paused"
    assert await _status(venue, NEW) == "inactive"

    exchange.lifecycle(LifecycleRequest(product=NEW, action="open"))
    (opened,) = await _lifecycle_messages(watcher, 1)
    assert opened["msg"]["event_type"] == "activated"
    assert opened["msg"]["is_deactivated"] is False
    assert await _book_changes_during(venue, NEW, 0.2) > 0

    exchange.lifecycle(LifecycleRequest(product=NEW, action="close"))
    (closed,) = await _lifecycle_messages(watcher, 1)
    assert closed["msg"]["event_type"] == "close_date_updated"
    assert abs(closed["msg"]["close_ts"] - exchange.sim_ns // 1_000_000_000) <= 1
    assert await _book_changes_during(venue, NEW, 0.2) == 0
    assert await _status(venue, NEW) == "closed"

    exchange.lifecycle(LifecycleRequest(product=NEW, action="determine", result="no"))
    (determined,) = await _lifecycle_messages(watcher, 1)
    assert determined["msg"]["result"] == "no"
    assert determined["msg"]["settlement_value"] == "0.0000"
    assert "determination_ts" in determined["msg"]
    assert await _status(venue, NEW) == "determined"

    await trader.drain(quiet_s=0.1)
    exchange.lifecycle(LifecycleRequest(product=NEW, action="settle"))
    (settled,) = await _lifecycle_messages(watcher, 1)
    assert settled["msg"]["event_type"] == "settled"
    assert [m["seq"] for m in (paused, opened, closed, determined, settled)] == [3, 4, 5, 6, 7]
    _, body = await venue.get(f"/markets/{NEW}")
    assert (body["market"]["status"], body["market"]["result"]) == ("finalized", "no")
    assert body["market"]["settlement_value_dollars"] == "0.0000"
    assert NEW not in exchange.product_ids
    await trader.command(
        "update_subscription", {"sid": 1, "action": "add_markets", "market_ticker": FED}
    )
    answer_ok = await trader.receive_until(lambda m: m["type"] == "ok")
    assert answer_ok["msg"] == {"market_tickers": [FED]}, "the settled market left the subscription"
    later = await trader.collect(0.3)
    assert later
    assert all(m["msg"]["market_ticker"] == FED for m in later)


async def test_lifecycle_refuses_what_cannot_be_done(kalshi: VenueFactory) -> None:
    venue = await kalshi(events_per_s=0.0)
    exchange = venue.exchange
    with pytest.raises(ValueError, match="exists already"):
        exchange.lifecycle(LifecycleRequest(product=FED, action="create"))
    with pytest.raises(ValueError, match="unsupported market tickers"):
        exchange.lifecycle(LifecycleRequest(product="NOPE", action="create"))
    with pytest.raises(ValueError, match="no market"):
        exchange.lifecycle(LifecycleRequest(product="KXNOPE-26NOV21-T1", action="pause"))
    with pytest.raises(ValueError, match="settle needs determined"):
        exchange.lifecycle(LifecycleRequest(product=FED, action="settle"))
    with pytest.raises(ValueError, match="open needs"):
        exchange.lifecycle(LifecycleRequest(product=FED, action="open"))


async def test_the_automatic_walk_keeps_the_market_count(kalshi: VenueFactory) -> None:
    venue = await kalshi(events_per_s=500.0, lifecycle_interval_s=0.01)
    exchange = venue.exchange
    watcher = await venue.connect()
    await watcher.command("subscribe", {"channels": ["market_lifecycle_v2"]})
    kinds: set[str] = set()
    while "settled" not in kinds or "created" not in kinds:
        message = await watcher.receive_json()
        if message["type"] == "market_lifecycle_v2":
            kinds.add(message["msg"]["event_type"])
    assert len(exchange.product_ids) == 6
    finalized = [t for t, m in exchange.markets.items() if m.info.status == "finalized"]
    assert finalized
    assert len(exchange.markets) == 6 + len(finalized)
    assert {"close_date_updated", "determined"} <= kinds
    replacements = [t for t, m in exchange.markets.items() if m.info.status == "active"]
    assert all(t.count("-") >= 2 for t in replacements)
