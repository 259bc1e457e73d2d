"""A client's session with the simulated Kalshi over a real socket: the protocol as it is."""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec
import pytest

from ssmd.simulator.faults import FaultRequest
from ssmd.venues.kalshi.config import HEARTBEAT_PAYLOAD

if TYPE_CHECKING:
    from conftest import VenueFactory

pytestmark = pytest.mark.integration

FED = "KXFED-26DEC-T4.00"
NYC = "KXHIGHNY-26NOV21-B53.5"
BTC = "KXBTCD-26NOV2117-T99999.99"
FAST = {"events_per_s": 3000.0, "ticker_interval_s": 0.05}

Book = dict[str, dict[str, Decimal]]


def _apply_snapshot(books: dict[str, Book], msg: dict[str, Any]) -> None:
    books[msg["market_ticker"]] = {
        side: {p: Decimal(c) for p, c in msg.get(f"{side}_dollars_fp", [])}
        for side in ("yes", "no")
    }


def _apply_delta(books: dict[str, Book], msg: dict[str, Any]) -> None:
    levels = books[msg["market_ticker"]][msg["side"]]
    size = levels.get(msg["price_dollars"], Decimal(0)) + Decimal(msg["delta_fp"])
    assert size >= 0
    if size:
        levels[msg["price_dollars"]] = size
    else:
        del levels[msg["price_dollars"]]


async def test_subscribe_answers_one_subscribed_per_channel_with_new_sids(
    kalshi: VenueFactory,
) -> None:
    venue = await kalshi(events_per_s=0.0)
    client = await venue.connect()
    await client.command(
        "subscribe", {"channels": ["orderbook_delta", "trade", "ticker"], "market_ticker": FED}
    )
    await client.command("subscribe", {"channels": ["market_lifecycle_v2"]})
    await client.command("list_subscriptions")
    listed = await client.receive_until(lambda m: m["type"] == "ok")
    replies = [m for m in map(msgspec.json.decode, client.frames) if m["type"] == "subscribed"]
    assert [(m["id"], m["msg"]) for m in replies] == [
        (1, {"channel": "orderbook_delta", "sid": 1}),
        (1, {"channel": "trade", "sid": 2}),
        (1, {"channel": "ticker", "sid": 3}),
        (2, {"channel": "market_lifecycle_v2", "sid": 4}),
    ]
    assert listed == {
        "id": 3,
        "type": "ok",
        "msg": [
            {"channel": "orderbook_delta", "sid": 1},
            {"channel": "trade", "sid": 2},
            {"channel": "ticker", "sid": 3},
            {"channel": "market_lifecycle_v2", "sid": 4},
        ],
    }
    second = await venue.connect()
    await second.command("subscribe", {"channels": ["trade"]})
    assert (await second.receive_json())["msg"]["sid"] == 1  # sids are per connection


async def test_snapshot_then_contiguous_deltas_rebuild_the_venue_book(
    kalshi: VenueFactory,
) -> None:
    venue = await kalshi(**FAST)
    client = await venue.connect()
    await client.command(
        "subscribe", {"channels": ["orderbook_delta"], "market_tickers": [FED, NYC]}
    )
    books: dict[str, Book] = {}
    seq = 0
    deltas = 0
    while deltas < 400:
        message = await client.receive_json()
        if message["type"] == "subscribed":
            continue
        assert message["sid"] == 1
        assert message["seq"] == seq + 1, "seq +1 per message on the sid"
        seq = message["seq"]
        if message["type"] == "orderbook_snapshot":
            assert seq <= 2, "the two snapshots come first"
            _apply_snapshot(books, message["msg"])
        else:
            assert message["type"] == "orderbook_delta"
            assert set(books) == {FED, NYC}
            _apply_delta(books, message["msg"])
            deltas += 1
    await venue.exchange.apply_fault(
        FaultRequest(action="stall", seconds=0.6)
    )  # a quiet time: nothing changes
    for message in await client.drain(quiet_s=0.3):
        assert message["seq"] == seq + 1
        seq = message["seq"]
        _apply_delta(books, message["msg"])
    for ticker in (FED, NYC):
        truth: Any = venue.exchange.book_state(ticker)
        assert truth is not None
        ours = books[ticker]
        assert ours["yes"] == {p: Decimal(c) for p, c in truth["yes_dollars_fp"]}
        assert ours["no"] == {p: Decimal(c) for p, c in truth["no_dollars_fp"]}
        # The venue's YES asks are the NO bids at 1 - price.
        asks = {Decimal(1) - Decimal(p): Decimal(c) for p, c in truth["asks"]}
        assert asks == {Decimal(p): c for p, c in ours["no"].items()}


async def test_trades_carry_the_documented_fields_and_match_the_ledger(
    kalshi: VenueFactory,
) -> None:
    venue = await kalshi(events_per_s=4000.0, trade_share=0.5)
    client = await venue.connect()
    await client.command("subscribe", {"channels": ["trade"]})  # every market
    trades: list[dict[str, Any]] = []
    while len(trades) < 60:
        message = await client.receive_json()
        if message["type"] == "trade":
            trades.append(message)
    assert [t["seq"] for t in trades] == list(range(1, 61))
    tickers = {t["msg"]["market_ticker"] for t in trades}
    assert len(tickers) > 1
    for trade in trades:
        msg = trade["msg"]
        assert Decimal(msg["yes_price_dollars"]) + Decimal(msg["no_price_dollars"]) == 1
        assert Decimal("0.01") <= Decimal(msg["yes_price_dollars"]) <= Decimal("0.99")
        assert msg["count_fp"].split(".")[1].isdigit()
        assert len(msg["count_fp"].split(".")[1]) == 2
        assert len(msg["yes_price_dollars"].split(".")[1]) == 4
    entries = venue.ledger.entries(kind="data", feed="trade", connection=1, limit=60)
    assert [(e.product, e.seq, e.uid, e.price, e.qty) for e in entries] == [
        (
            t["msg"]["market_ticker"],
            t["seq"],
            t["msg"]["trade_id"],
            t["msg"]["yes_price_dollars"],
            t["msg"]["count_fp"],
        )
        for t in trades
    ]


async def test_ticker_initial_snapshot_then_throttled_changes_without_seq(
    kalshi: VenueFactory,
) -> None:
    venue = await kalshi(events_per_s=3000.0, ticker_interval_s=0.1)
    client = await venue.connect()
    await client.command(
        "subscribe",
        {"channels": ["ticker"], "market_tickers": [FED, BTC], "send_initial_snapshot": True},
    )
    assert (await client.receive_json())["type"] == "subscribed"
    initial = [await client.receive_json(), await client.receive_json()]
    assert [m["msg"]["market_ticker"] for m in initial] == [FED, BTC]
    times: dict[str, list[int]] = defaultdict(list)
    while min(len(times[FED]), len(times[BTC])) < 4:
        message = await client.receive_json()
        assert message["type"] == "ticker"
        assert "seq" not in message
        assert message["sid"] == 1
        msg = message["msg"]
        assert Decimal(msg["yes_bid_dollars"]) < Decimal(msg["yes_ask_dollars"])
        assert isinstance(msg["dollar_volume"], int)
        times[msg["market_ticker"]].append(msg["ts_ms"])
    for ticker in (FED, BTC):
        gaps = [b - a for a, b in itertools.pairwise(times[ticker])]
        assert all(gap >= 100 for gap in gaps), "at most one ticker per interval per market"


async def test_unsubscribe_acks_with_seq_and_stops_the_flow(kalshi: VenueFactory) -> None:
    venue = await kalshi(**FAST)
    client = await venue.connect()
    await client.command("subscribe", {"channels": ["orderbook_delta"], "market_ticker": FED})
    await client.command("subscribe", {"channels": ["ticker"], "market_ticker": FED})
    last_seq = 0
    while last_seq < 20:
        message = await client.receive_json()
        if message.get("sid") == 1:
            last_seq = message["seq"]
    await client.command("unsubscribe", {"sids": [1, 2]})
    acks: list[dict[str, Any]] = []
    while len(acks) < 2:
        message = await client.receive_json()
        if message["type"] == "unsubscribed":
            acks.append(message)
        elif message.get("sid") == 1:
            last_seq = message["seq"]
    assert acks[0] == {"id": 3, "sid": 1, "seq": last_seq + 1, "type": "unsubscribed"}
    assert acks[1]["sid"] == 2
    assert await client.drain(quiet_s=0.3) == []
    assert venue.exchange.connection_states()[0]["subscriptions"] == []


async def test_update_subscription_adds_deletes_and_snapshots(kalshi: VenueFactory) -> None:
    venue = await kalshi(events_per_s=0.0)
    client = await venue.connect()
    await client.command("subscribe", {"channels": ["orderbook_delta"], "market_ticker": FED})
    await client.drain()
    await client.command(
        "update_subscription", {"sid": 1, "action": "add_markets", "market_tickers": [NYC, BTC]}
    )
    added = await client.drain()
    assert added[0] == {
        "id": 2,
        "sid": 1,
        "seq": 2,
        "type": "ok",
        "msg": {"market_tickers": [FED, NYC, BTC]},
    }
    assert [(m["type"], m["seq"], m["msg"]["market_ticker"]) for m in added[1:]] == [
        ("orderbook_snapshot", 3, NYC),
        ("orderbook_snapshot", 4, BTC),
    ]
    await client.command(
        "update_subscription", {"sids": [1], "action": "delete_markets", "market_ticker": FED}
    )
    deleted = await client.receive_json()
    assert deleted["msg"] == {"market_tickers": [NYC, BTC]}
    assert deleted["seq"] == 5
    await client.command(
        "update_subscription", {"sid": 1, "action": "get_snapshot", "market_tickers": [BTC]}
    )
    snapshot = await client.receive_json()
    assert snapshot["type"] == "orderbook_snapshot"
    assert (snapshot["id"], snapshot["sid"], snapshot["seq"]) == (4, 1, 6)
    truth = venue.exchange.book_state(BTC)
    assert truth is not None
    assert snapshot["msg"]["yes_dollars_fp"] == truth["yes_dollars_fp"]
    assert snapshot["msg"]["no_dollars_fp"] == truth["no_dollars_fp"]
    assert snapshot["msg"]["market_id"] == venue.exchange.markets[BTC].info.market_id


async def test_heartbeat_pings_carry_the_payload_and_client_pings_are_answered(
    kalshi: VenueFactory,
) -> None:
    venue = await kalshi(events_per_s=0.0, heartbeat_interval_s=0.05)
    client = await venue.connect(autoping=False)
    message = await client.ws.receive(timeout=5)
    assert message.type == aiohttp.WSMsgType.PING
    assert message.data == HEARTBEAT_PAYLOAD
    await client.ws.ping(b"are you there")
    for _ in range(20):
        message = await client.ws.receive(timeout=5)
        if message.type == aiohttp.WSMsgType.PONG:
            break
    else:
        pytest.fail("no pong")
    assert venue.ledger.entries(kind="control", feed="ping")


async def test_a_silent_client_is_closed(kalshi: VenueFactory) -> None:
    venue = await kalshi(events_per_s=0.0, client_idle_timeout_s=0.2, heartbeat_interval_s=60)
    client = await venue.connect(autoping=False)
    message = await client.ws.receive(timeout=5)
    assert message.type == aiohttp.WSMsgType.CLOSE
    await asyncio.sleep(0.05)
    assert venue.exchange.connection_states() == []
