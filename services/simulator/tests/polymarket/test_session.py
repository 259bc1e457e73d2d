"""A client's session with the simulated Polymarket market channel, over a real socket."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec
import pytest

if TYPE_CHECKING:
    from conftest import Books, ClientFactory, FixtureLoader, VenueFactory

pytestmark = pytest.mark.integration

BTC = "will-btc-close-above-100k-on-nov-30"
FED = "fed-cuts-rates-in-december"
FAST = {"events_per_s": 3000.0}


def _prices(levels: list[dict[str, str]]) -> list[Decimal]:
    return [Decimal(level["price"]) for level in levels]


def _state_levels(message: dict[str, Any]) -> tuple[list[list[str]], list[list[str]]]:
    """A book message's levels best first, as book_state prints them."""
    bids = [[level["price"], level["size"]] for level in reversed(message["bids"])]
    asks = [[level["price"], level["size"]] for level in reversed(message["asks"])]
    return bids, asks


async def test_subscribe_dumps_one_book_per_asset_in_one_array_as_real_traffic_orders_them(
    start_venue: VenueFactory, connect: ClientFactory, fixture_json: FixtureLoader
) -> None:
    real = fixture_json("captured/ws_book_snapshot_captured.json")
    assert _prices(real["bids"]) == sorted(_prices(real["bids"]))  # worst bid first
    assert _prices(real["asks"]) == sorted(_prices(real["asks"]), reverse=True)  # worst ask first
    venue = await start_venue(events_per_s=0.0)
    client = await connect(venue)
    assets = venue.assets(BTC, FED)
    await client.subscribe(assets)
    text = await client.receive_text()
    assert text is not None
    assert text.startswith("[")
    books = msgspec.json.decode(text)
    assert [book["asset_id"] for book in books] == assets
    for book in books:
        assert book["event_type"] == "book"
        assert _prices(book["bids"]) == sorted(_prices(book["bids"]))
        assert _prices(book["asks"]) == sorted(_prices(book["asks"]), reverse=True)
        state = venue.exchange.book_state(book["asset_id"])
        assert state is not None
        assert state["hash"] == book["hash"]
        assert (state["bids"], state["asks"]) == _state_levels(book)
        assert book["tick_size"] == "0.01"
    yes, no = books[0], books[1]
    assert yes["market"] == no["market"] == venue.exchange.catalog.by_slug(BTC).ids.condition_id  # type: ignore[union-attr]
    assert _prices(no["bids"]) == [1 - p for p in _prices(yes["asks"])]
    assert _prices(no["asks"]) == [1 - p for p in _prices(yes["bids"])]
    assert [b["size"] for b in no["bids"]] == [a["size"] for a in yes["asks"]]


async def test_price_changes_keep_a_client_book_equal_to_the_venue_book(
    start_venue: VenueFactory, connect: ClientFactory, new_books: type[Books]
) -> None:
    venue = await start_venue(**FAST)
    client = await connect(venue)
    yes, no = venue.assets(BTC)
    await client.subscribe([yes, no])
    books = new_books()
    changes = 0
    while changes < 300:
        for message in await client.receive():
            books.apply(message)
            if message["event_type"] == "price_change":
                changes += 1
                assert [e["asset_id"] for e in message["price_changes"]] == [yes, no]
                yes_entry, no_entry = message["price_changes"]
                assert Decimal(no_entry["price"]) == 1 - Decimal(yes_entry["price"])
                assert no_entry["size"] == yes_entry["size"]
                assert {yes_entry["side"], no_entry["side"]} == {"BUY", "SELL"}
    await venue.fault(action="stall", seconds=5.0)
    for text in await client.quiet():
        decoded = msgspec.json.decode(text)
        for message in decoded if isinstance(decoded, list) else [decoded]:
            books.apply(message)
    assert books.mismatches == []
    for asset in (yes, no):
        state = venue.exchange.book_state(asset)
        assert state is not None
        assert list(books.books[asset].levels()) == [state["bids"], state["asks"]]
        assert books.hashes[asset] == state["hash"]


async def test_frames_come_both_as_arrays_and_as_single_objects(
    start_venue: VenueFactory, connect: ClientFactory
) -> None:
    venue = await start_venue(**FAST)
    client = await connect(venue)
    await client.subscribe(venue.assets(), initial_dump=False)
    shapes = set()
    for _ in range(200):
        text = await client.receive_text()
        assert text is not None
        shapes.add(text[0])
        if shapes == {"[", "{"}:
            break
    assert shapes == {"[", "{"}


async def test_text_ping_is_answered_with_text_pong(
    start_venue: VenueFactory, connect: ClientFactory
) -> None:
    venue = await start_venue(events_per_s=0.0)
    client = await connect(venue)
    await client.send("PING")
    assert await client.receive_text() == "PONG"
    await client.subscribe(venue.assets(BTC))
    await client.receive()  # the dump
    await client.send("PING")
    assert await client.receive_text() == "PONG"
    assert len(venue.ledger.entries(kind="control", feed="pong")) == 2


async def test_subscribe_and_unsubscribe_operations_change_what_a_connection_gets(
    start_venue: VenueFactory, connect: ClientFactory
) -> None:
    venue = await start_venue(**FAST)
    client = await connect(venue)
    btc, fed = venue.assets(BTC), venue.assets(FED)
    btc_market = venue.exchange.catalog.by_slug(BTC).ids.condition_id  # type: ignore[union-attr]
    fed_market = venue.exchange.catalog.by_slug(FED).ids.condition_id  # type: ignore[union-attr]
    await client.subscribe(btc)
    assert [m["asset_id"] for m in await client.receive()] == btc  # no ack: the dump comes
    await client.subscribe(fed[:1], operation="subscribe")
    await client.messages_until(
        lambda m: m["event_type"] == "book" and m["asset_id"] == fed[0], limit=500
    )
    await client.subscribe(btc, operation="unsubscribe")
    await client.send("PING")  # the PONG follows whatever was queued before the unsubscribe
    while await client.receive_text() != "PONG":
        pass
    markets: set[str] = set()
    for _ in range(100):
        markets.update(m["market"] for m in await client.receive())
    assert markets == {fed_market}
    [state] = venue.exchange.connection_states()
    assert state["markets"] == [fed_market]
    assert state["subscriptions"] == fed[:1]
    await client.subscribe(btc, operation="subscribe", initial_dump=False)
    seen = await client.messages_until(lambda m: m["market"] == btc_market, limit=500)
    assert all(m["event_type"] != "book" for m in seen)


async def test_more_assets_than_the_cap_closes_the_socket_with_1008(
    start_venue: VenueFactory, connect: ClientFactory
) -> None:
    venue = await start_venue(events_per_s=0.0, max_assets_per_connection=3)
    client = await connect(venue)
    await client.subscribe(venue.assets(BTC))
    await client.receive()
    await client.subscribe(venue.assets(FED), operation="subscribe")
    assert await client.receive_text() is None
    assert client.ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
    closed = venue.ledger.entries(kind="control", feed="closed")
    assert len(closed) == 1
    assert closed[0].detail is not None
    assert "at most 3" in closed[0].detail


async def test_custom_feature_messages_go_only_to_connections_that_enabled_them(
    start_venue: VenueFactory, connect: ClientFactory
) -> None:
    venue = await start_venue(**FAST)
    plain, custom = await connect(venue), await connect(venue)
    await plain.subscribe(venue.assets(BTC), initial_dump=False)
    await custom.subscribe(venue.assets(BTC), custom=True, initial_dump=False)
    top = await custom.messages_until(lambda m: m["event_type"] == "best_bid_ask", limit=2000)
    assert set(top[-1]) == {
        "event_type",
        "market",
        "asset_id",
        "best_bid",
        "best_ask",
        "spread",
        "timestamp",
    }
    kinds: set[str] = set()
    for _ in range(300):
        kinds.update(m["event_type"] for m in await plain.receive())
    assert "price_change" in kinds
    assert "best_bid_ask" not in kinds


async def test_unknown_assets_and_bad_frames_are_ignored_and_recorded(
    start_venue: VenueFactory, connect: ClientFactory
) -> None:
    venue = await start_venue(events_per_s=0.0)
    client = await connect(venue)
    await client.send("hello")
    await client.send({"type": "user", "assets_ids": []})
    await client.send({"assets_ids": ["123"], "operation": "explode"})
    await client.subscribe(["999", *venue.assets(BTC)])
    books = await client.receive()
    assert [book["asset_id"] for book in books] == venue.assets(BTC)
    await client.send("PING")
    assert await client.receive_text() == "PONG"  # still connected
    unknown = venue.ledger.entries(kind="control", feed="unknown_asset")
    assert [entry.detail for entry in unknown] == ["999"]
    ignored = venue.ledger.entries(kind="control", feed="ignored_request")
    assert len(ignored) == 3


async def test_ledger_has_each_sent_message_once_with_trade_details(
    start_venue: VenueFactory, connect: ClientFactory
) -> None:
    venue = await start_venue(events_per_s=4000.0, trade_share=0.3)
    client = await connect(venue)
    yes, no = venue.assets(BTC)
    await client.subscribe([yes, no])
    received: list[dict[str, Any]] = []
    while sum(m["event_type"] == "last_trade_price" and m["asset_id"] == no for m in received) < 3:
        received.extend(await client.receive())
    await venue.fault(action="stall", seconds=5.0)
    for text in await client.quiet():
        decoded = msgspec.json.decode(text)
        received.extend(decoded if isinstance(decoded, list) else [decoded])
    await asyncio.sleep(0.05)
    entries = venue.ledger.entries(kind="data", connection=1)
    assert [e.feed for e in entries] == [m["event_type"] for m in received]
    market = received[0]["market"]
    for message, entry in zip(received, entries, strict=True):
        assert entry.product == market
        if message["event_type"] == "last_trade_price":
            assert entry.uid == message["transaction_hash"]
            assert (entry.price, entry.qty) == (message["price"], message["size"])
            assert entry.detail == ("yes" if message["asset_id"] == yes else "no")
    for trade, following in itertools.pairwise(received):
        if trade["event_type"] != "last_trade_price":
            continue
        assert following["event_type"] == "price_change"
        entry = next(e for e in following["price_changes"] if e["asset_id"] == trade["asset_id"])
        assert entry["price"] == trade["price"]  # NO trades print at 1 - p of the YES level
        assert entry["side"] == ("SELL" if trade["side"] == "BUY" else "BUY")


async def test_duplicate_and_unsubscribed_assets_change_nothing(
    start_venue: VenueFactory, connect: ClientFactory
) -> None:
    venue = await start_venue(events_per_s=0.0)
    client = await connect(venue)
    yes, no = venue.assets(BTC)
    await client.subscribe([yes, yes, no])
    assert [book["asset_id"] for book in await client.receive()] == [yes, no]
    await client.subscribe(venue.assets(FED), operation="unsubscribe")
    await client.subscribe([yes], operation="subscribe")  # subscribed already: no dump
    await client.send("PING")
    assert await client.receive_text() == "PONG"
    [state] = venue.exchange.connection_states()
    assert state["subscriptions"] == sorted([yes, no])
    details = [e.detail for e in venue.ledger.entries(kind="control")]
    assert details[:3] == ["2 assets", "0 assets", "0 assets"]


async def test_a_silent_client_is_closed_and_binary_frames_are_ignored(
    start_venue: VenueFactory, connect: ClientFactory
) -> None:
    venue = await start_venue(events_per_s=0.0, client_idle_timeout_s=0.3)
    client = await connect(venue)
    await client.ws.send_bytes(b"PING")
    assert await client.receive_text(timeout_s=5.0) is None
    assert client.ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
    details = [(e.feed, e.detail) for e in venue.ledger.entries(kind="control")]
    assert details == [("ignored_request", "binary frame"), ("closed", "idle")]


async def test_connections_beyond_the_limit_are_refused(
    start_venue: VenueFactory, connect: ClientFactory
) -> None:
    venue = await start_venue(events_per_s=0.0, max_connections=1)
    await connect(venue)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await connect(venue)
    assert refused.value.status == 503


async def test_a_client_whose_queue_is_full_is_dropped_as_a_slow_consumer(
    start_venue: VenueFactory,
) -> None:
    venue = await start_venue(events_per_s=0.0)

    class FullConnection:
        id = 7
        aborted = False

        def send(self, batch: object) -> bool:
            return False

        def abort(self) -> None:
            self.aborted = True

    conn = FullConnection()
    venue.exchange.send(conn, [])  # type: ignore[arg-type]
    assert conn.aborted
    [entry] = venue.ledger.entries(kind="fault", feed="slow_consumer")
    assert entry.connection == 7
