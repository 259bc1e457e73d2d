"""KrakenFuturesParser: wire frames into canonical events, control, unsupported, malformed."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import msgspec
import pytest

from ssmd.contracts.events import (
    BookDelta,
    BookSnapshot,
    FundingRate,
    LevelChange,
    PriceLevel,
    Quote,
    Trade,
    decode_event,
    encode_event,
)
from ssmd.venues.book import OrderBook
from ssmd.venues.capture import read_capture
from ssmd.venues.errors import MalformedFrame
from ssmd.venues.kraken_futures import requests
from ssmd.venues.kraken_futures.parse import KrakenFuturesParser
from ssmd.venues.kraken_futures.wire import (
    AlertMsg,
    ChallengeMsg,
    ErrorMsg,
    HeartbeatMsg,
    InfoMsg,
    SubscribedFailedMsg,
    SubscribedMsg,
    SubscribeRequest,
    UnsubscribedFailedMsg,
    UnsubscribedMsg,
    UnsubscribeRequest,
)

pytestmark = pytest.mark.unit

RECV = 1_700_000_000_123_456_789
MARKET = "kraken_futures:PI_XBTUSD"


@pytest.fixture
def parser() -> KrakenFuturesParser:
    return KrakenFuturesParser()


def _nt(kraken_dir: Path, name: str) -> bytes:
    return (kraken_dir / "nautilus_trader" / name).read_bytes()


def test_ticker_becomes_quote_and_funding_rate(
    parser: KrakenFuturesParser, kraken_dir: Path
) -> None:
    result = parser.parse(_nt(kraken_dir, "ws_futures_ticker.json"), RECV)
    assert (result.feed, result.product_id, result.control, result.unsupported) == (
        "ticker",
        "PI_XBTUSD",
        None,
        False,
    )
    quote, funding = result.events
    assert quote == Quote(
        venue="kraken_futures",
        market=MARKET,
        ts_event_ns=1676393235406_000000,
        ts_recv_ns=RECV,
        bid_price="21978.5",
        bid_size="2536",
        ask_price="21987",
        ask_size="13948",
        last_price="21983.5",
    )
    assert funding == FundingRate(
        venue="kraken_futures",
        market=MARKET,
        ts_event_ns=1676393235406_000000,
        ts_recv_ns=RECV,
        rate="-0.000000000062604214",
        relative_rate="-0.000001380384722222",
        next_funding_ts_ns=1676394000000_000000,
    )
    for event in result.events:  # every event satisfies the published contract
        assert decode_event(encode_event(event)) == event


def test_ticker_without_funding_fields_gives_only_a_quote(parser: KrakenFuturesParser) -> None:
    frame = b'{"feed":"ticker","product_id":"FI_XBTUSD_210924","time":5,"bid":1.5,"ask":null}'
    (quote,) = parser.parse(frame, RECV).events
    assert isinstance(quote, Quote)
    assert (quote.bid_price, quote.ask_price, quote.bid_size, quote.ts_event_ns) == (
        "1.5",
        None,
        None,
        5_000_000,
    )


def test_trade_becomes_trade_with_exact_numbers(
    parser: KrakenFuturesParser, kraken_dir: Path
) -> None:
    result = parser.parse(_nt(kraken_dir, "ws_futures_trade.json"), RECV)
    assert result.events == [
        Trade(
            venue="kraken_futures",
            market=MARKET,
            ts_event_ns=1612266317519_000000,
            ts_recv_ns=RECV,
            seq=653355,
            price="34969.5",
            size="15000",
            side="sell",
            trade_id="05af78ac-a774-478c-a50c-8b9c234e071e",
        )
    ]


def test_trade_snapshot_gives_each_trade_oldest_first(
    parser: KrakenFuturesParser, kraken_dir: Path
) -> None:
    result = parser.parse(_nt(kraken_dir, "ws_futures_trade_snapshot.json"), RECV)
    assert result.feed == "trade_snapshot"
    assert [(t.seq, t.price, t.size, t.trade_id) for t in result.events] == [  # type: ignore[union-attr]
        (655507, "34891", "9643", "45ee9737-1877-4682-bc68-e4ef818ef88a"),
        (655508, "34893", "440", "caa9c653-420b-4c24-a9f1-462a054d86f1"),
    ]


def test_book_snapshot_is_best_first(parser: KrakenFuturesParser, kraken_dir: Path) -> None:
    (snapshot,) = parser.parse(_nt(kraken_dir, "ws_futures_book_snapshot.json"), RECV).events
    assert snapshot == BookSnapshot(
        venue="kraken_futures",
        market=MARKET,
        ts_event_ns=1612269825817_000000,
        ts_recv_ns=RECV,
        seq=326072249,
        bids=[PriceLevel("34892.5", "6385"), PriceLevel("34892", "10924")],
        asks=[PriceLevel("34911.5", "20598"), PriceLevel("34912", "2300")],
    )


def test_book_snapshot_drops_zero_levels_and_sorts(
    parser: KrakenFuturesParser, kraken_dir: Path
) -> None:
    (snapshot,) = parser.parse(
        _nt(kraken_dir, "ws_futures_book_snapshot_with_zero_qty.json"), RECV
    ).events
    assert isinstance(snapshot, BookSnapshot)
    assert snapshot.bids == [PriceLevel("34892.5", "6385"), PriceLevel("34891.5", "100")]
    assert snapshot.asks == [PriceLevel("34912", "2300")]
    unsorted = (
        b'{"feed":"book_snapshot","product_id":"X","timestamp":1,"seq":1,"tickSize":null,'
        b'"bids":[{"price":9,"qty":1},{"price":10,"qty":1}],'
        b'"asks":[{"price":12,"qty":1},{"price":11.5,"qty":1}]}'
    )
    (snapshot,) = parser.parse(unsorted, RECV).events
    assert isinstance(snapshot, BookSnapshot)
    assert [lv.price for lv in snapshot.bids] == ["10", "9"]
    assert [lv.price for lv in snapshot.asks] == ["11.5", "12"]


def test_book_delta_maps_side_and_keeps_seq(parser: KrakenFuturesParser, kraken_dir: Path) -> None:
    result = parser.parse(_nt(kraken_dir, "ws_futures_book_delta.json"), RECV)
    assert result.events == [
        BookDelta(
            venue="kraken_futures",
            market=MARKET,
            ts_event_ns=1612269953629_000000,
            ts_recv_ns=RECV,
            seq=326094134,
            changes=[LevelChange(side="ask", price="34981", size="0")],
        )
    ]
    buy = (
        b'{"feed":"book","product_id":"pi_xbtusd","side":"buy","seq":1,'
        b'"price":1e1,"qty":2.50,"timestamp":3}'
    )
    (delta,) = parser.parse(buy, RECV).events
    assert isinstance(delta, BookDelta)
    assert delta.market == MARKET  # product ids are case-insensitive; the id is upper case
    assert delta.changes == [LevelChange(side="bid", price="10", size="2.5")]


def test_ticker_lite_has_no_venue_time(parser: KrakenFuturesParser) -> None:
    frame = (
        b'{"feed":"ticker_lite","product_id":"PI_ETHUSD","bid":2005.2,"ask":2005.3,'
        b'"change":1.2,"premium":0.1,"volume":1.0,"tag":"perpetual","pair":"ETH:USD","dtm":0,'
        b'"maturityTime":0}'
    )
    (quote,) = parser.parse(frame, RECV).events
    assert quote == Quote(
        venue="kraken_futures",
        market="kraken_futures:PI_ETHUSD",
        ts_event_ns=RECV,
        ts_recv_ns=RECV,
        bid_price="2005.2",
        ask_price="2005.3",
    )


@pytest.mark.parametrize(
    ("frame", "kind"),
    [
        (b'{"event":"info","version":1}', InfoMsg),
        (b'{"event":"subscribed","feed":"book","product_ids":["PI_XRPUSD"]}', SubscribedMsg),
        (b'{"event":"subscribed_failed","feed":"book","product_ids":["X"]}', SubscribedFailedMsg),
        (b'{"event":"unsubscribed","feed":"trade","product_ids":["X"]}', UnsubscribedMsg),
        (b'{"event":"unsubscribed_failed","feed":"trade"}', UnsubscribedFailedMsg),
        (b'{"event":"error","message":"Json Error"}', ErrorMsg),
        (b'{"event":"alert","message":"Bad websocket message"}', AlertMsg),
        (b'{"event":"challenge","message":"c100b894-1729-464d-ace1-52dbce11db42"}', ChallengeMsg),
        (b'{"event":"subscribe","feed":"book","product_ids":["pi_xbtusd"]}', SubscribeRequest),
        (b'{"event":"unsubscribe","feed":"heartbeat"}', UnsubscribeRequest),
        (b'{"feed":"heartbeat","time":1534262350627}', HeartbeatMsg),
    ],
)
def test_control_messages_are_recognized_not_events(
    parser: KrakenFuturesParser, frame: bytes, kind: type
) -> None:
    result = parser.parse(frame, RECV)
    assert result.events == []
    assert isinstance(result.control, kind)
    assert not result.unsupported


def test_subscribed_ack_names_its_product(parser: KrakenFuturesParser) -> None:
    result = parser.parse(b'{"event":"subscribed","feed":"book","product_ids":["PI_XRPUSD"]}', 1)
    assert (result.feed, result.product_id) == ("book", "PI_XRPUSD")


@pytest.mark.parametrize(
    "frame",
    [
        b'{"feed":"fills","username":"u","fills":[]}',
        b'{"feed":"open_position","positions":[]}',
        b'{"feed":"some_future_feed","x":1}',
        b'{"event":"some_future_event"}',
    ],
)
def test_well_formed_frames_of_other_feeds_are_unsupported(
    parser: KrakenFuturesParser, frame: bytes
) -> None:
    result = parser.parse(frame, RECV)
    assert result.unsupported
    assert result.events == []
    assert result.control is None


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b'{"feed":"book","product_id":', "not JSON"),
        (b"[1,2]", "not a Kraken Futures message"),
        (b'{"x":1}', "neither"),
        (b'{"feed":7}', "not a Kraken Futures message"),
        (b'{"feed":"book","product_id":"X","side":"buy","seq":1,"price":1}', "invalid 'book'"),
        (
            b'{"feed":"trade","product_id":"X","uid":"u","side":"up","type":"fill","seq":1,"time":1,"qty":1,"price":1}',
            "invalid 'trade'",
        ),
        (
            b'{"feed":"book","product_id":"X","side":"buy","seq":1,"price":"1.5","qty":1,"timestamp":1}',
            "price",
        ),
        (
            b'{"feed":"book","product_id":"X","side":"buy","seq":1,"price":1.5,"qty":-1,"timestamp":1}',
            "negative size",
        ),
        (
            b'{"feed":"book","product_id":"X","side":"buy","seq":-1,"price":1.5,"qty":1,"timestamp":1}',
            "invalid 'book'",
        ),
        (b'{"feed":"ticker","product_id":"X","time":1,"bid":{"a":1}}', "bid"),
        (b'{"event":"error"}', "invalid 'error'"),
        (b'{"event":"subscribed","feed":5}', "not a Kraken Futures message"),
        (b'{"event":"subscribed","product_ids":"X"}', "invalid 'subscribed'"),
    ],
)
def test_malformed_frames_raise_with_bytes_and_reason(
    parser: KrakenFuturesParser, frame: bytes, reason: str
) -> None:
    with pytest.raises(MalformedFrame) as caught:
        parser.parse(frame, RECV)
    assert caught.value.frame == frame
    assert reason in caught.value.reason
    assert not caught.value.retryable


def test_text_frames_parse_like_bytes(parser: KrakenFuturesParser) -> None:
    text = (
        '{"feed":"trade","product_id":"PI_ETHUSD","uid":"a","side":"buy","type":"fill",'
        '"seq":1,"time":2,"qty":40.0,"price":2005.2}'
    )
    assert parser.parse(text, RECV) == parser.parse(text.encode(), RECV)


def test_whole_2021_capture_parses_without_a_malformed_frame(
    parser: KrakenFuturesParser, kraken_dir: Path
) -> None:
    path = kraken_dir / "cryptofeed" / "KRAKEN_FUTURES.ws.1.0.ws_capture.txt"
    feeds: Counter[str] = Counter()
    last_seq: dict[str, int] = {}
    books: defaultdict[str, OrderBook] = defaultdict(OrderBook)
    trade_seqs: defaultdict[str, list[int]] = defaultdict(list)
    for record in read_capture(path):
        if record.direction != "in":
            continue
        result = parser.parse(record.frame, record.ts_ns)
        feeds[result.feed or type(result.control).__name__] += 1
        assert not result.unsupported
        for event in result.events:
            assert event.ts_recv_ns == record.ts_ns
            if isinstance(event, BookSnapshot):
                books[event.market].apply_snapshot_event(event)
                last_seq[event.market] = event.seq or 0
            elif isinstance(event, BookDelta):
                # Per product, seq goes up by exactly one from the snapshot on.
                assert event.seq == last_seq[event.market] + 1
                last_seq[event.market] = event.seq
                books[event.market].apply_delta(event)
            elif isinstance(event, Trade):
                trade_seqs[event.market].append(event.seq or 0)
    assert feeds == {
        "InfoMsg": 1,
        "book": 7014 + 10,
        "trade": 3 + 10,
        "ticker_lite": 107 + 10,
        "book_snapshot": 10,
        "trade_snapshot": 10,
    }
    assert len(books) == 10
    assert all(book.depth()[0] > 0 and book.depth()[1] > 0 for book in books.values())
    for seqs in trade_seqs.values():
        assert seqs == sorted(seqs)


def test_requests_are_the_venue_shapes() -> None:
    assert msgspec.json.decode(requests.subscribe("book", ["pi_xbtusd", "PF_ETHUSD"])) == {
        "event": "subscribe",
        "feed": "book",
        "product_ids": ["PI_XBTUSD", "PF_ETHUSD"],
    }
    assert requests.subscribe("heartbeat") == b'{"event":"subscribe","feed":"heartbeat"}'
    assert requests.unsubscribe("trade", ["PF_XBTUSD"]) == (
        b'{"event":"unsubscribe","feed":"trade","product_ids":["PF_XBTUSD"]}'
    )
    assert requests.challenge("key") == b'{"event":"challenge","api_key":"key"}'
