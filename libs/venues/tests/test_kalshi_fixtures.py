"""Every Kalshi fixture file, and every line of the two spec-example files, is read right.

Files are parametrized from the directory listing, so a new file without a reader fails the
test named after it; so does a new spec example without an expectation. Expected values are
the fixtures' own numbers worked by hand (a NO bid at q is a YES ask at 1 - q), or, for the
REST order book, the best prices the same venue reported in the market body.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ssmd.contracts.events import (
    BookDelta,
    BookSnapshot,
    LevelChange,
    PriceLevel,
    Quote,
    Trade,
    decode_event,
    encode_event,
)
from ssmd.testing.fixtures import venue_fixtures_dir
from ssmd.venues.errors import MalformedFrame
from ssmd.venues.kalshi import config
from ssmd.venues.kalshi.parse import (
    DataMark,
    ErrorReply,
    KalshiParser,
    ParseResult,
    Reply,
    UnknownMessage,
)
from ssmd.venues.kalshi.requests import (
    ListSubscriptionsCmd,
    SubscribeCmd,
    UnsubscribeCmd,
    UpdateSubscriptionCmd,
    decode_command,
)
from ssmd.venues.kalshi.rest import (
    parse_candlesticks,
    parse_market,
    parse_markets,
    parse_orderbook,
    parse_trades,
)
from ssmd.venues.kalshi.wire import (
    EventFeeUpdateBody,
    EventLifecycleBody,
    FillBody,
    MarketLifecycleBody,
    MarketPositionBody,
)

pytestmark = pytest.mark.unit

RECV = 1_800_000_000_000_000_000
KALSHI_DIR = venue_fixtures_dir() / "kalshi"
FILES = sorted(path for path in KALSHI_DIR.rglob("*") if path.is_file())
SPEC_FILES = sorted(KALSHI_DIR.glob("docs_asyncapi_examples_*.jsonl"))
S_1669149841 = 1_669_149_841 * 1_000_000_000  # 2022-11-22T20:44:01Z, the examples' time
FED = "kalshi:FED-23DEC-T3.00"


def _spec_lines() -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.stem.removeprefix("docs_asyncapi_examples_"), json.loads(line))
        for path in SPEC_FILES
        for line in path.read_text().splitlines()
        if line.strip()
    ]


SPEC_LINES = _spec_lines()


def _parse(payload: dict[str, Any]) -> ParseResult:
    return KalshiParser().parse(json.dumps(payload).encode(), RECV)


def _round_trips(result: ParseResult) -> None:
    for event in result.events:  # the events satisfy the canonical contract
        assert decode_event(encode_event(event)) == event


# -- the two spec-example files, line by line -------------------------------------------------
def _command(payload: dict[str, Any]) -> None:
    command = decode_command(json.dumps(payload))
    kinds: dict[str, type] = {
        "subscribe": SubscribeCmd,
        "unsubscribe": UnsubscribeCmd,
        "update_subscription": UpdateSubscriptionCmd,
        "list_subscriptions": ListSubscriptionsCmd,
    }
    assert type(command) is kinds[payload["cmd"]]
    assert command.id == payload["id"]
    if isinstance(command, SubscribeCmd):
        assert command.params.channels == payload["params"]["channels"]
    elif isinstance(command, UpdateSubscriptionCmd):
        assert command.params.action == payload["params"]["action"]
        assert command.params.market_tickers == payload["params"]["market_tickers"]
    elif isinstance(command, UnsubscribeCmd):
        assert command.params.sids == payload["params"]["sids"]
    # A command is not something a server sends: the parser refuses it, naming why.
    with pytest.raises(MalformedFrame, match="no 'type'"):
        _parse(payload)


def _reply(payload: dict[str, Any]) -> None:
    result = _parse(payload)
    assert result.events == []
    reply = result.control
    assert isinstance(reply, Reply)
    assert reply.id == payload.get("id")
    body: Any = payload.get("msg")
    if payload["type"] == "subscribed":
        assert (reply.kind, reply.sid, reply.channel) == (
            "subscribed",
            body["sid"],
            body["channel"],
        )
    elif isinstance(body, list):
        assert reply.kind == "list_subscriptions"
        assert reply.subscriptions is not None
        assert [(s.channel, s.sid) for s in reply.subscriptions] == [
            (entry["channel"], entry["sid"]) for entry in body
        ]
    elif payload["type"] == "ok":
        assert (reply.kind, reply.sid, reply.seq) == ("ok", payload["sid"], payload["seq"])
        assert reply.market_tickers == body["market_tickers"]
    else:
        assert (reply.kind, reply.sid, reply.seq) == ("unsubscribed", 2, 7)


def _error(payload: dict[str, Any]) -> None:
    result = _parse(payload)
    error = result.control
    assert isinstance(error, ErrorReply)
    assert (error.id, error.code, error.msg) == (
        payload["id"],
        payload["msg"]["code"],
        payload["msg"]["msg"],
    )
    # The spec's example messages are the documented texts of their codes.
    assert error.code_text == payload["msg"]["msg"]
    assert error.market_tickers == (
        [payload["msg"]["market_ticker"]] if "market_ticker" in payload["msg"] else []
    )
    assert not error.terminal


def _snapshot(payload: dict[str, Any]) -> None:
    result = _parse(payload)
    # YES bids 0.08x300, 0.22x333; NO bids 0.54x20, 0.56x146 -> YES asks 0.46x20, 0.44x146.
    assert result.events == [
        BookSnapshot(
            venue="kalshi",
            market=FED,
            ts_event_ns=RECV,
            ts_recv_ns=RECV,
            seq=2,
            bids=[PriceLevel("0.22", "333"), PriceLevel("0.08", "300")],
            asks=[PriceLevel("0.44", "146"), PriceLevel("0.46", "20")],
        )
    ]
    assert result.control == DataMark(kind="orderbook_snapshot", sid=2, seq=2, market=FED)


def _delta(payload: dict[str, Any]) -> None:
    result = _parse(payload)  # a fresh parser: no snapshot of this market yet
    # -54 on a level the parser has never seen: clamped to 0, and the book is not synced.
    assert result.events == [
        BookDelta(
            venue="kalshi",
            market=FED,
            ts_event_ns=S_1669149841,  # ts_ms (2026-04) or RFC 3339 ts (2026-03)
            ts_recv_ns=RECV,
            seq=3,
            changes=[LevelChange(side="bid", price="0.96", size="0")],
        )
    ]
    assert result.control == DataMark(
        kind="orderbook_delta", sid=2, seq=3, market=FED, issue="no_snapshot"
    )


def _ticker(payload: dict[str, Any]) -> None:
    result = _parse(payload)
    has_sizes = "yes_bid_size_fp" in payload["msg"]
    assert result.events == [
        Quote(
            venue="kalshi",
            market=FED,
            ts_event_ns=S_1669149841,
            ts_recv_ns=RECV,
            bid_price="0.45",
            bid_size="300" if has_sizes else None,
            ask_price="0.53",
            ask_size="150" if has_sizes else None,
            last_price="0.48",
        )
    ]
    assert result.control == DataMark(kind="ticker", sid=11, seq=None, market=FED)


def _trade(payload: dict[str, Any]) -> None:
    result = _parse(payload)
    assert result.events == [
        Trade(
            venue="kalshi",
            market="kalshi:HIGHNY-22DEC23-B53.5",  # '.' kept: tickers are kept as sent
            ts_event_ns=S_1669149841,
            ts_recv_ns=RECV,
            seq=payload.get("seq"),
            price="0.36",
            size="136",
            side="sell",  # the taker bought NO
            trade_id="d91bc706-ee49-470d-82d8-11418bda6fed",
        )
    ]


def _detail(kind: type, check: Callable[[Any], bool]) -> Callable[[dict[str, Any]], None]:
    def read(payload: dict[str, Any]) -> None:
        result = _parse(payload)
        assert result.events == []  # these change no market status
        mark = result.control
        assert isinstance(mark, DataMark)
        assert (mark.kind, mark.sid, mark.seq) == (
            payload["type"],
            payload["sid"],
            payload.get("seq"),
        )
        assert mark.status is None
        assert isinstance(mark.detail, kind)
        assert check(mark.detail)

    return read


def _unknown(payload: dict[str, Any]) -> None:
    result = _parse(payload)
    assert result.events == []
    assert result.control == UnknownMessage(
        type=payload["type"], sid=payload["sid"], seq=payload.get("seq")
    )


# (message name, example name) -> reader; a line with no entry fails its test.
READ_SPEC_LINE: dict[str, Callable[[dict[str, Any]], None]] = {
    "subscribeCommand": _command,
    "unsubscribeCommand": _command,
    "listSubscriptionsCommand": _command,
    "updateSubscriptionCommand": _command,
    "updateSubscriptionDeleteCommand": _command,
    "updateSubscriptionSingleSidCommand": _command,
    "updateSubscriptionGetSnapshotCommand": _command,
    "subscribedResponse": _reply,
    "unsubscribedResponse": _reply,
    "okResponse": _reply,
    "listSubscriptionsResponse": _reply,
    "errorResponse": _error,
    "orderbookSnapshot": _snapshot,
    "orderbookDelta": _delta,
    "ticker": _ticker,
    "trade": _trade,
    "fill": _detail(
        FillBody,
        lambda fill: (
            fill.market_ticker == "HIGHNY-22DEC23-B53.5"
            and (fill.count_fp, fill.count) in (("278.00", None), ("278.00", 278))
            and fill.is_taker
        ),
    ),
    "marketLifecycleV2": _detail(
        MarketLifecycleBody,
        lambda body: (
            body.event_type in ("created", "price_level_structure_updated")
            and body.market_ticker == "INXD-23SEP14-B4487"
            and (
                (
                    body.additional_metadata.floor_strike == Decimal(4487)
                    and body.open_ts == 1694635200
                )
                if body.event_type == "created"
                else body.price_ranges[0].step == "0.0010"
            )
        ),
    ),
    "marketMetadataUpdated": _detail(
        MarketLifecycleBody,
        lambda body: (
            body.event_type == "metadata_updated"
            and (
                (body.strike_type, body.floor_strike, body.cap_strike)
                == ("between", Decimal(95000), Decimal(95250))
                or body.yes_sub_title == "above $95,000"
            )
        ),
    ),
    "eventLifecycle": _detail(
        EventLifecycleBody,
        lambda event: (
            (event.event_ticker, event.series_ticker, event.collateral_return_type)
            == ("KXQUICKSETTLE-26JAN25H2150", "KXQUICKSETTLE", "MECNET")
        ),
    ),
    "eventFeeUpdate": _detail(
        EventFeeUpdateBody,
        lambda fee: (
            (fee.fee_type_override, fee.fee_multiplier_override)
            in (("quadratic", Decimal(1)), (None, None))
        ),
    ),
    "marketPosition": _detail(
        MarketPositionBody,
        lambda position: (
            position.market_ticker == "FED-23DEC-T3.00"
            and (position.position_fp == "100.00" or position.position == 100)
        ),
    ),
    "multivariateLookup": _unknown,
    "orderGroupUpdates": _unknown,
    "userOrder": _unknown,
    "rfqCreated": _unknown,
    "rfqDeleted": _unknown,
    "quoteCreated": _unknown,
    "quoteAccepted": _unknown,
    "quoteExecuted": _unknown,
}


@pytest.mark.parametrize(
    ("revision", "line"),
    SPEC_LINES,
    ids=[f"{rev}:{line['message']}/{line['example']}" for rev, line in SPEC_LINES],
)
def test_every_spec_example_is_read_right(revision: str, line: dict[str, Any]) -> None:
    read = READ_SPEC_LINE.get(line["message"])
    assert read is not None, f"no reader for spec message {line['message']!r}: add one"
    read(line["payload"])


def test_a_spec_snapshot_then_delta_give_the_new_absolute_size() -> None:
    parser = KalshiParser()
    snapshot, delta = _pair("2026-04")
    parser.parse(json.dumps(snapshot).encode(), RECV)
    moved = dict(delta, msg=dict(delta["msg"], price_dollars="0.2200", delta_fp="-33.00"))
    result = parser.parse(json.dumps(moved).encode(), RECV)
    # The YES bid 0.22 rests with 333 after the snapshot; -33 leaves 300.
    (event,) = result.events
    assert isinstance(event, BookDelta)
    assert event.changes == [LevelChange(side="bid", price="0.22", size="300")]
    assert isinstance(result.control, DataMark)
    assert result.control.issue is None


def _pair(revision: str) -> tuple[dict[str, Any], dict[str, Any]]:
    found = {
        line["message"]: line["payload"]
        for rev, line in SPEC_LINES
        if rev == revision and line["message"] in ("orderbookSnapshot", "orderbookDelta")
    }
    return found["orderbookSnapshot"], found["orderbookDelta"]


def test_both_spec_revisions_are_there() -> None:
    assert [p.name for p in SPEC_FILES] == [
        "docs_asyncapi_examples_2026-03.jsonl",
        "docs_asyncapi_examples_2026-04.jsonl",
    ]
    assert len(SPEC_LINES) >= 60


# -- every file of the directory ----------------------------------------------------------------
def _spec_file(path: Path) -> None:
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    assert all(line["message"] in READ_SPEC_LINE for line in lines)


def _rest_market(path: Path) -> None:
    market = parse_market(path.read_bytes())
    assert (market.ticker, market.status, market.settlement_timer_s) == (
        "KXELONMARS-99",
        "active",
        1800,
    )
    assert market.price_ranges is not None
    assert market.price_ranges[0].step == "0.0100"


def _rest_markets(path: Path) -> None:
    page = parse_markets(path.read_bytes())
    assert page.cursor == ""
    if "two_tickers" in path.name:
        assert [m.ticker for m in page.items] == ["KXELONMARS-99", "KXCOLONIZEMARS-50"]
        assert page.items[1].price_level_structure == "deci_cent"
        assert page.items[1].settlement_timer_s == 1800  # sent as the string "1800"
    else:
        assert [(m.ticker, m.yes_bid_dollars) for m in page.items] == [
            ("KXBTC-25MAR15-B100000", "0.4200")
        ]


def _rest_orderbook(path: Path) -> None:
    ticker = "KXELONMARS-99" if "KXELONMARS" in path.name else "KXBTC-25MAR15-B100000"
    book = parse_orderbook(path.read_bytes(), ticker, RECV)
    assert book.market == f"kalshi:{ticker}"
    if "KXELONMARS" in path.name:
        # The market body of the same capture says: yes bid 0.0800 x 444.32, yes ask
        # 0.1200 x 1967.33 (the best NO bid 0.88 seen from the YES side).
        assert (book.bids[0], book.asks[0]) == (
            PriceLevel("0.08", "444.32"),
            PriceLevel("0.12", "1967.33"),
        )
        assert (len(book.bids), len(book.asks)) == (8, 18)
    else:
        assert book.bids == [PriceLevel("0.42", "13"), PriceLevel("0.35", "200")]
        assert book.asks == [PriceLevel("0.44", "17"), PriceLevel("0.46", "400")]


def _rest_trades(path: Path) -> None:
    page = parse_trades(path.read_bytes(), RECV)
    assert page.cursor == ""
    assert [(t.price, t.size, t.side, t.ts_event_ns) for t in page.items] == [
        ("0.36", "136", "sell", 1_740_854_641 * 1_000_000_000)  # 2025-03-01T18:44:01Z
    ]


def _rest_candlesticks(path: Path) -> None:
    (candle,) = parse_candlesticks(path.read_bytes())
    assert candle.end_period_ts == 1741046400
    assert candle.price is not None
    assert (candle.price.mean, candle.volume, candle.open_interest) == (
        "0.4150",
        "1250.00",
        "50000.00",
    )


def _ws_snapshot(path: Path) -> None:
    result = KalshiParser().parse(path.read_bytes(), RECV)
    (book,) = result.events
    assert isinstance(book, BookSnapshot)
    assert (book.seq, book.market) == (1, "kalshi:KXBTC-25MAR15-B100000")
    assert book.bids == [PriceLevel("0.42", "13"), PriceLevel("0.35", "200")]
    assert book.asks == [PriceLevel("0.44", "17"), PriceLevel("0.46", "400")]


def _ws_delta(path: Path) -> None:
    parser = KalshiParser()
    parser.parse((path.parent / "ws_orderbook_snapshot.json").read_bytes(), RECV)
    result = parser.parse(path.read_bytes(), RECV)
    (delta,) = result.events
    assert isinstance(delta, BookDelta)
    # +50 on the YES bid 0.42 that rests with 13 -> 63; ts "2025-03-01T18:26:53.361842Z".
    assert delta.changes == [LevelChange(side="bid", price="0.42", size="63")]
    assert delta.ts_event_ns == 1_740_853_613_361_842_000
    assert result.control == DataMark(
        kind="orderbook_delta", sid=1, seq=2, market="kalshi:KXBTC-25MAR15-B100000"
    )


def _ws_trade(path: Path) -> None:
    (trade,) = KalshiParser().parse(path.read_bytes(), RECV).events
    assert isinstance(trade, Trade)
    assert (trade.price, trade.size, trade.side, trade.seq, trade.ts_event_ns) == (
        "0.36",
        "136",
        "sell",
        1,
        1_741_052_641 * 1_000_000_000,
    )


READERS: list[tuple[str, Callable[[Path], None]]] = [
    ("docs_asyncapi_examples_", _spec_file),
    ("get_market_", _rest_market),
    ("get_markets_", _rest_markets),
    ("http_markets", _rest_markets),
    ("get_orderbook_", _rest_orderbook),
    ("http_orderbook", _rest_orderbook),
    ("http_trades", _rest_trades),
    ("http_candlesticks", _rest_candlesticks),
    ("ws_orderbook_snapshot", _ws_snapshot),
    ("ws_orderbook_delta", _ws_delta),
    ("ws_trade", _ws_trade),
]


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(KALSHI_DIR)) for p in FILES])
def test_every_fixture_file_is_read(path: Path) -> None:
    readers = [read for prefix, read in READERS if path.name.startswith(prefix)]
    assert readers, f"no reader for fixture {path.name}: add one to READERS"
    readers[0](path)


def test_the_fixture_directory_is_there() -> None:
    assert len(FILES) >= 12, f"Kalshi fixtures missing under {KALSHI_DIR}"


def test_ws_fixture_events_satisfy_the_canonical_contract() -> None:
    parser = KalshiParser()
    for name in ("ws_orderbook_snapshot.json", "ws_orderbook_delta.json", "ws_trade.json"):
        _round_trips(
            parser.parse((KALSHI_DIR / "nautilus_trader_pr3659" / name).read_bytes(), RECV)
        )
    for _, line in SPEC_LINES:
        if "type" in line["payload"]:
            _round_trips(_parse(line["payload"]))
    assert config.VENUE == "kalshi"
