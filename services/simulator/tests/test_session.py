"""A client's session with the simulated Kraken Futures venue: the protocol as it is."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec
import pytest

from ssmd.contracts.events import BookDelta, BookSnapshot, FundingRate, Quote, Trade
from ssmd.venues.book import OrderBook
from ssmd.venues.kraken_futures import requests
from ssmd.venues.kraken_futures.parse import KrakenFuturesParser
from ssmd.venues.kraken_futures.rest import parse_instruments, parse_orderbook, parse_tickers

if TYPE_CHECKING:
    from conftest import Client, ClientFactory, SimulatorFactory

pytestmark = pytest.mark.integration

PERP = "PF_XBTUSD"
FUTURE = "FF_XBTUSD_270326"
FAST = {"events_per_s": 4000.0, "ticker_interval_s": 0.05}


async def _subscribe(client: Client, feed: str, *products: str) -> None:
    await client.send(requests.subscribe(feed, products))


def _is_data(message: dict[str, Any]) -> bool:
    return "feed" in message and "event" not in message


async def test_client_gets_info_then_one_ack_per_product_upper_case(
    start_simulator: SimulatorFactory, connect: ClientFactory
) -> None:
    simulator = await start_simulator(**FAST)
    client = await connect(simulator)
    assert await client.receive_json() == {"event": "info", "version": 1}
    await client.send(
        {"event": "subscribe", "feed": "book", "product_ids": ["pf_xbtusd", "pf_ethusd"]}
    )
    acks = []
    while len(acks) < 2:
        message = await client.receive_json()
        if message.get("event") == "subscribed":
            acks.append(message)
    assert acks == [
        {"event": "subscribed", "feed": "book", "product_ids": ["PF_XBTUSD"]},
        {"event": "subscribed", "feed": "book", "product_ids": ["PF_ETHUSD"]},
    ]


async def test_book_snapshot_then_contiguous_deltas_rebuild_the_venue_book(
    start_simulator: SimulatorFactory, connect: ClientFactory
) -> None:
    simulator = await start_simulator(**FAST)
    client = await connect(simulator)
    await _subscribe(client, "book", PERP)
    parser = KrakenFuturesParser()
    book = OrderBook()
    seq = None
    deltas = 0
    while deltas < 300:
        frame = await client.receive()
        assert frame is not None
        for event in parser.parse(frame, 0).events:
            if isinstance(event, BookSnapshot):
                assert seq is None, "one snapshot, first"
                book.apply_snapshot_event(event)
                seq = event.seq
            elif isinstance(event, BookDelta):
                assert seq is not None, "no delta before the snapshot"
                assert event.seq == seq + 1
                seq = event.seq
                book.apply_delta(event)
                deltas += 1
                assert not book.is_crossed()
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{simulator.url}/control/book", params={"product": PERP}) as answer,
    ):
        truth = await answer.json()
    assert seq is not None
    while seq < truth["seq"]:  # catch up with the moment the venue's book was read
        frame = await client.receive()
        assert frame is not None
        for event in parser.parse(frame, 0).events:
            assert isinstance(event, BookDelta)
            assert event.seq == seq + 1
            seq = event.seq
            book.apply_delta(event)
    expected = OrderBook()
    expected.apply_snapshot(
        [tuple(lv) for lv in truth["bids"]], [tuple(lv) for lv in truth["asks"]]
    )
    assert book == expected
    assert book.depth() == (25, 25)


async def test_trades_follow_their_snapshot_in_sequence(
    start_simulator: SimulatorFactory, connect: ClientFactory
) -> None:
    simulator = await start_simulator(events_per_s=8000.0, trade_share=0.5)
    client = await connect(simulator)
    await _subscribe(client, "trade", PERP)
    parser = KrakenFuturesParser()
    trades: list[Trade] = []
    feeds = []
    while len(trades) < 100:
        frame = await client.receive()
        assert frame is not None
        result = parser.parse(frame, 0)
        if result.control is None and result.feed in ("trade", "trade_snapshot"):
            feeds.append(result.feed)
            trades.extend(e for e in result.events if isinstance(e, Trade))
    assert feeds[0] == "trade_snapshot"
    assert "trade_snapshot" not in feeds[1:]
    live = [t for t in trades if t.seq is not None]
    seqs = [t.seq for t in live]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert all(t.market == f"kraken_futures:{PERP}" and t.trade_id for t in trades)
    assert len({t.trade_id for t in trades}) == len(trades)


async def test_tickers_carry_funding_only_for_perpetuals(
    start_simulator: SimulatorFactory, connect: ClientFactory
) -> None:
    simulator = await start_simulator(**FAST)
    client = await connect(simulator)
    await _subscribe(client, "ticker", PERP, FUTURE)
    await _subscribe(client, "ticker_lite", PERP)
    parser = KrakenFuturesParser()
    seen: dict[tuple[str | None, str | None], list[object]] = {}
    while len(seen) < 3:
        result = parser.parse(await client.receive() or b"", 0)
        if result.events:
            seen.setdefault((result.feed, result.product_id), result.events)
    perp = seen[("ticker", PERP)]
    assert [type(e) for e in perp] == [Quote, FundingRate]
    funding = perp[1]
    assert isinstance(funding, FundingRate)
    assert funding.relative_rate is not None
    assert funding.next_funding_ts_ns is not None
    assert funding.next_funding_ts_ns % 3_600_000_000_000 == 0
    assert [type(e) for e in seen[("ticker", FUTURE)]] == [Quote]
    (lite,) = seen[("ticker_lite", PERP)]
    assert isinstance(lite, Quote)
    assert lite.bid_price is not None
    assert lite.ask_price is not None


async def test_heartbeat_feed(start_simulator: SimulatorFactory, connect: ClientFactory) -> None:
    simulator = await start_simulator(heartbeat_interval_s=0.05)
    client = await connect(simulator)
    await client.send({"event": "subscribe", "feed": "heartbeat"})
    message = await client.receive_until(
        lambda m: m.get("feed") == "heartbeat" and "event" not in m, limit=10
    )
    assert isinstance(message["time"], int)
    assert {"event": "subscribed", "feed": "heartbeat"} in [
        msgspec.json.decode(f) for f in client.frames
    ]


@pytest.mark.parametrize(
    ("request_text", "answer"),
    [
        ("not json", {"event": "error", "message": "Json Error"}),
        ('{"event":"dance"}', {"event": "error", "message": "Json Error"}),
        ('{"event":"subscribe","feed":"book"}', {"event": "error", "message": "Json Error"}),
        (
            '{"event":"subscribe","feed":"book","product_ids":[]}',
            {"event": "error", "message": "Json Error"},
        ),
        (
            '{"event":"subscribe","feed":"book","product_ids":["PF_NOPEUSD"]}',
            {"event": "error", "message": "Invalid product id"},
        ),
        (
            '{"event":"subscribe","feed":"candles","product_ids":["PF_XBTUSD"]}',
            {"event": "error", "message": "Invalid feed"},
        ),
        (
            '{"event":"subscribe","feed":"fills"}',
            {"event": "subscribed_failed", "feed": "fills", "message": "Authentication required"},
        ),
        (
            '{"event":"unsubscribe","feed":"trade","product_ids":["PF_XBTUSD"]}',
            {"event": "unsubscribed_failed", "feed": "trade", "product_ids": ["PF_XBTUSD"]},
        ),
    ],
)
async def test_bad_requests_get_the_documented_answers(
    start_simulator: SimulatorFactory,
    connect: ClientFactory,
    request_text: str,
    answer: dict[str, Any],
) -> None:
    simulator = await start_simulator(events_per_s=0.0)
    client = await connect(simulator)
    assert (await client.receive_json())["event"] == "info"
    await client.send(request_text)
    assert await client.receive_json() == answer


async def test_unsubscribe_acks_and_challenge_is_answered(
    start_simulator: SimulatorFactory, connect: ClientFactory
) -> None:
    simulator = await start_simulator(events_per_s=0.0)
    client = await connect(simulator)
    await _subscribe(client, "trade", PERP)
    await client.send(requests.unsubscribe("trade", [PERP]))
    message = await client.receive_until(lambda m: m.get("event") == "unsubscribed", limit=10)
    assert message == {"event": "unsubscribed", "feed": "trade", "product_ids": [PERP]}
    await client.send(requests.challenge("key"))
    challenge = await client.receive_until(lambda m: m.get("event") == "challenge", limit=10)
    assert len(challenge["message"]) == 36


async def test_ledger_matches_what_the_client_received(
    start_simulator: SimulatorFactory, connect: ClientFactory
) -> None:
    simulator = await start_simulator(**FAST)
    client = await connect(simulator)
    await _subscribe(client, "book", PERP, "PF_ETHUSD")
    await _subscribe(client, "trade", PERP)
    parser = KrakenFuturesParser()
    received: list[tuple[Any, ...]] = []
    while len(received) < 500:
        frame = await client.receive()
        assert frame is not None
        result = parser.parse(frame, 0)
        if result.feed == "trade_snapshot" and not result.events:
            received.append(("trade_snapshot", result.product_id, None, None, None, None))
        for event in result.events:
            if isinstance(event, BookDelta):
                change = event.changes[0]
                received.append(
                    ("book", result.product_id, event.seq, None, change.price, change.size)
                )
            elif isinstance(event, Trade):
                received.append(
                    (
                        result.feed,
                        result.product_id,
                        event.seq,
                        event.trade_id,
                        event.price,
                        event.size,
                    )
                )
            elif isinstance(event, BookSnapshot):
                received.append(("book_snapshot", result.product_id, event.seq, None, None, None))
    async with aiohttp.ClientSession() as http:
        params = {"kind": "data", "connection": "1"}
        async with http.get(f"{simulator.url}/control/ledger", params=params) as answer:
            entries = await answer.json()
        async with http.get(
            f"{simulator.url}/control/ledger", params={**params, "format": "jsonl"}
        ) as answer:
            lines = (await answer.read()).splitlines()
        async with http.get(f"{simulator.url}/control/ledger/summary") as answer:
            summary = await answer.json()
    sent = [(e["feed"], e["product"], e["seq"], e["uid"], e["price"], e["qty"]) for e in entries]
    assert sent[: len(received)] == received
    assert [msgspec.json.decode(line)["index"] for line in lines[:10]] == [
        e["index"] for e in entries[:10]
    ]
    assert summary["total"] >= len(received)
    in_process = simulator.ledger.entries(kind="data", connection=1, limit=len(received))
    assert [(e.feed, e.product, e.seq, e.uid, e.price, e.qty) for e in in_process] == received


async def test_rest_answers_in_the_venue_envelope(start_simulator: SimulatorFactory) -> None:
    simulator = await start_simulator(**FAST)
    base = f"{simulator.url}/derivatives/api/v3"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/instruments") as answer:
            instruments = {i.symbol: i for i in parse_instruments(await answer.read())}
        async with http.get(f"{base}/tickers") as answer:
            tickers = parse_tickers(await answer.read(), 1)
        async with http.get(f"{base}/orderbook", params={"symbol": "pf_xbtusd"}) as answer:
            book = parse_orderbook(await answer.read(), PERP, 1)
        async with http.get(f"{base}/orderbook", params={"symbol": "NOPE"}) as answer:
            error = await answer.json()
    assert set(instruments) == {"PF_XBTUSD", "PF_ETHUSD", "PF_SOLUSD", FUTURE}
    assert instruments[PERP].kind == "perpetual"
    assert instruments[PERP].tick_size == "0.5"
    assert instruments[FUTURE].kind == "fixed_maturity"
    assert instruments[FUTURE].last_trading_ts_ns == 1806073200_000000000  # 2027-03-26T15:00Z
    assert {type(e).__name__ for e in tickers} == {"Quote", "FundingRate"}
    assert len(book.bids) == 25
    assert book.bids[0].price < book.asks[0].price or float(book.bids[0].price) < float(
        book.asks[0].price
    )
    assert error["result"] == "error"


async def test_silent_client_is_disconnected_like_the_venue_does(
    start_simulator: SimulatorFactory, connect: ClientFactory
) -> None:
    simulator = await start_simulator(events_per_s=0.0, client_idle_timeout_s=0.2)
    client = await connect(simulator)
    assert (await client.receive_json())["event"] == "info"
    message = await client.ws.receive(timeout=10)
    assert message.type == aiohttp.WSMsgType.CLOSE
    assert message.data == aiohttp.WSCloseCode.POLICY_VIOLATION


async def test_connections_beyond_the_limit_are_refused(
    start_simulator: SimulatorFactory, connect: ClientFactory
) -> None:
    simulator = await start_simulator(events_per_s=0.0, max_connections=1)
    await connect(simulator)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await connect(simulator)
    assert refused.value.status == 503


async def test_a_client_that_does_not_read_is_dropped_as_slow(
    start_simulator: SimulatorFactory, connect: ClientFactory
) -> None:
    simulator = await start_simulator(events_per_s=50_000.0, send_queue_max_batches=2)
    client = await connect(simulator)
    await client.send(requests.subscribe("book", ["PF_XBTUSD", "PF_ETHUSD", "PF_SOLUSD"]))
    for _ in range(300):  # bounded: about 15 s at most
        if simulator.ledger.entries(kind="fault", feed="slow_consumer"):
            break
        await asyncio.sleep(0.05)
    (entry,) = simulator.ledger.entries(kind="fault", feed="slow_consumer")
    assert entry.connection == 1
