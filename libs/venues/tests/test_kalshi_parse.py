"""KalshiParser: YES-leg books, increments into sizes, tickers, trades, lifecycle, replies,
unknown and malformed frames. Expected numbers are worked by hand in the comments."""

from __future__ import annotations

import calendar
import json
from typing import Any

import pytest

from ssmd.contracts.events import (
    BookDelta,
    BookSnapshot,
    LevelChange,
    MarketStatus,
    PriceLevel,
    Quote,
    Trade,
)
from ssmd.venues.errors import MalformedFrame
from ssmd.venues.kalshi.book import add_sizes, yes_ask
from ssmd.venues.kalshi.parse import (
    DataMark,
    ErrorReply,
    KalshiParser,
    ParseResult,
    UnknownMessage,
)
from ssmd.venues.kalshi.wire import rfc3339_ns

pytestmark = pytest.mark.unit

RECV = 1_800_000_000_000_000_000
TICKER = "KXHIGHNY-26NOV21-B53.5"
MARKET = f"kalshi:{TICKER}"


@pytest.fixture
def parser() -> KalshiParser:
    return KalshiParser()


def _frame(kind: str, msg: dict[str, Any], **envelope: Any) -> bytes:
    return json.dumps({"type": kind, "sid": 1, **envelope, "msg": msg}).encode()


def _snapshot(yes: list[list[str]] | None, no: list[list[str]] | None, seq: int = 1) -> bytes:
    msg: dict[str, Any] = {"market_ticker": TICKER, "market_id": "u-1"}
    if yes is not None:
        msg["yes_dollars_fp"] = yes
    if no is not None:
        msg["no_dollars_fp"] = no
    return _frame("orderbook_snapshot", msg, seq=seq)


def _delta(side: str, price: str, delta: str, seq: int = 2, **extra: Any) -> bytes:
    msg = {"market_ticker": TICKER, "side": side, "price_dollars": price, "delta_fp": delta}
    return _frame("orderbook_delta", {**msg, **extra}, seq=seq)


def _one(parser: KalshiParser, frame: bytes) -> Any:
    result = parser.parse(frame, RECV)
    assert len(result.events) == 1
    return result.events[0]


def _changes(result: ParseResult) -> list[LevelChange]:
    (delta,) = result.events
    assert isinstance(delta, BookDelta)
    return delta.changes


# -- YES-leg normalization ----------------------------------------------------------------------
def test_a_no_bid_at_0_40_is_a_yes_ask_at_0_60(parser: KalshiParser) -> None:
    book = _one(parser, _snapshot(None, [["0.4000", "25.00"]]))
    assert isinstance(book, BookSnapshot)
    assert (book.bids, book.asks) == ([], [PriceLevel("0.6", "25")])


def test_snapshot_sides_are_best_first_and_zero_sizes_dropped(parser: KalshiParser) -> None:
    frame = _snapshot(
        [["0.0100", "5.00"], ["0.3000", "0.00"], ["0.2950", "7.50"]],
        [["0.6000", "1.00"], ["0.7050", "2.00"], ["0.0010", "3.00"]],
    )
    book = _one(parser, frame)
    # YES bids descending; NO 0.705 -> 0.295, 0.6 -> 0.4, 0.001 -> 0.999 ascending.
    assert book.bids == [PriceLevel("0.295", "7.5"), PriceLevel("0.01", "5")]
    assert book.asks == [
        PriceLevel("0.295", "2"),
        PriceLevel("0.4", "1"),
        PriceLevel("0.999", "3"),
    ]


def test_complement_is_exact_at_every_precision() -> None:
    assert [yes_ask(p) for p in ("0", "1", "0.4", "0.01", "0.999", "0.123456")] == [
        "1",
        "0",
        "0.6",
        "0.99",
        "0.001",
        "0.876544",
    ]
    assert add_sizes("12.5", "-0.25") == "12.25"
    assert add_sizes("3", "-3.00") == "0"
    assert add_sizes("1", "-1.5") == "-0.5"
    assert add_sizes("1.25", "2") == "3.25"


def test_legacy_snapshot_forms_give_the_same_book(parser: KalshiParser) -> None:
    current = _one(parser, _snapshot([["0.0800", "300.00"]], [["0.5400", "20.00"]]))
    dollars = {
        "market_ticker": TICKER,
        "yes_dollars": [["0.080", 300]],
        "no_dollars": [["0.540", 20]],
    }
    cents = {"market_ticker": TICKER, "yes": [[8, 300]], "no": [[54, 20]]}
    for msg in (dollars, cents):
        book = _one(parser, _frame("orderbook_snapshot", msg, seq=1))
        assert (book.bids, book.asks) == (current.bids, current.asks)
        assert book.asks == [PriceLevel("0.46", "20")]


# -- increments into absolute sizes -------------------------------------------------------------
def test_delta_increments_become_absolute_sizes_and_zero_removes(parser: KalshiParser) -> None:
    parser.parse(_snapshot([["0.3000", "10.00"]], [["0.6500", "4.00"]]), RECV)
    assert _one(parser, _delta("yes", "0.3000", "5.00")).changes == [
        LevelChange(side="bid", price="0.3", size="15")  # 10 + 5
    ]
    assert _one(parser, _delta("yes", "0.3000", "-15.00", seq=3)).changes == [
        LevelChange(side="bid", price="0.3", size="0")  # 15 - 15: level removed
    ]
    assert _one(parser, _delta("no", "0.6500", "2.50", seq=4)).changes == [
        LevelChange(side="ask", price="0.35", size="6.5")  # NO 0.65 is YES ask 0.35; 4 + 2.5
    ]
    assert _one(parser, _delta("no", "0.4000", "7.00", seq=5)).changes == [
        LevelChange(side="ask", price="0.6", size="7")  # a new level starts at 0
    ]
    bids, asks = parser.books.levels(TICKER)
    assert (bids, asks) == ([], [PriceLevel("0.35", "6.5"), PriceLevel("0.6", "7")])


def test_delta_below_zero_is_clamped_and_flagged(parser: KalshiParser) -> None:
    parser.parse(_snapshot([["0.3000", "10.00"]], None), RECV)
    result = parser.parse(_delta("yes", "0.3000", "-12.00"), RECV)
    assert _changes(result) == [LevelChange(side="bid", price="0.3", size="0")]
    assert isinstance(result.control, DataMark)
    assert result.control.issue == "negative_size"


def test_delta_before_any_snapshot_is_flagged_not_synced(parser: KalshiParser) -> None:
    result = parser.parse(_delta("yes", "0.3000", "5.00"), RECV)
    assert _changes(result) == [LevelChange(side="bid", price="0.3", size="5")]
    assert result.control == DataMark(
        kind="orderbook_delta", sid=1, seq=2, market=MARKET, issue="no_snapshot"
    )
    negative = parser.parse(_delta("no", "0.3000", "-5.00", seq=3), RECV)
    assert _changes(negative) == [LevelChange(side="ask", price="0.7", size="0")]
    assert isinstance(negative.control, DataMark)
    assert negative.control.issue == "no_snapshot"
    assert not parser.books.is_synced(TICKER)
    parser.parse(_snapshot([["0.3000", "1.00"]], None), RECV)
    assert parser.books.is_synced(TICKER)


def test_a_snapshot_replaces_the_markets_sizes(parser: KalshiParser) -> None:
    parser.parse(_snapshot([["0.3000", "10.00"]], None), RECV)
    parser.parse(_snapshot([["0.2000", "1.00"]], None, seq=5), RECV)
    # 0.30 was not in the second snapshot: +2 starts from 0 there.
    assert _one(parser, _delta("yes", "0.3000", "2.00", seq=6)).changes[0].size == "2"


def test_dropped_books_are_not_synced(parser: KalshiParser) -> None:
    parser.parse(_snapshot([["0.3000", "10.00"]], None), RECV)
    parser.books.drop([TICKER])
    assert not parser.books.is_synced(TICKER)
    parser.parse(_snapshot([["0.3000", "10.00"]], None), RECV)
    parser.books.drop()  # all of them
    result = parser.parse(_delta("yes", "0.3000", "1.00"), RECV)
    assert isinstance(result.control, DataMark)
    assert result.control.issue == "no_snapshot"


def test_legacy_delta_in_cents(parser: KalshiParser) -> None:
    parser.parse(_snapshot([["0.9600", "60.00"]], None), RECV)
    msg = {"market_ticker": TICKER, "side": "yes", "price": 96, "delta": -54}
    assert _one(parser, _frame("orderbook_delta", msg, seq=2)).changes == [
        LevelChange(side="bid", price="0.96", size="6")
    ]


def test_get_snapshot_answer_carries_the_command_id(parser: KalshiParser) -> None:
    frame = _frame("orderbook_snapshot", {"market_ticker": TICKER}, seq=9, id=127)
    result = parser.parse(frame, RECV)
    assert result.control == DataMark(
        kind="orderbook_snapshot", sid=1, seq=9, market=MARKET, id=127
    )
    assert result.events[0].seq == 9


def test_delta_times_ms_then_rfc3339_then_receipt(parser: KalshiParser) -> None:
    with_ms = _one(parser, _delta("yes", "0.5", "1", ts_ms=1_700_000_000_123, ts="x"))
    assert with_ms.ts_event_ns == 1_700_000_000_123_000_000
    text = _one(parser, _delta("yes", "0.5", "1", ts="2025-03-01T18:26:53.361842123Z"))
    assert text.ts_event_ns == calendar.timegm((2025, 3, 1, 18, 26, 53)) * 10**9 + 361842123
    assert _one(parser, _delta("yes", "0.5", "1")).ts_event_ns == RECV


def test_rfc3339_offsets_and_fractions_are_exact() -> None:
    base = calendar.timegm((2022, 11, 22, 20, 44, 1)) * 10**9
    assert rfc3339_ns("2022-11-22T20:44:01Z") == base
    assert rfc3339_ns("2022-11-22T21:44:01.5+01:00") == base + 500_000_000
    with pytest.raises(ValueError, match="RFC 3339"):
        rfc3339_ns("2022-11-22")
    with pytest.raises(ValueError, match="RFC 3339"):
        rfc3339_ns("2022-13-22T20:44:01Z")
    with pytest.raises(ValueError, match="before 1970"):
        rfc3339_ns("1969-12-31T23:59:59Z")


# -- ticker and trade -------------------------------------------------------------------------
def test_ticker_with_an_empty_side_quotes_none_there(parser: KalshiParser) -> None:
    msg = {
        "market_ticker": TICKER,
        "price_dollars": "0.0000",
        "yes_bid_dollars": "0.0000",
        "yes_bid_size_fp": "0.00",
        "yes_ask_dollars": "1.0000",
        "yes_ask_size_fp": "0.00",
        "ts_ms": 1_700_000_000_000,
    }
    assert _one(parser, _frame("ticker", msg)) == Quote(
        venue="kalshi",
        market=MARKET,
        ts_event_ns=1_700_000_000_000_000_000,
        ts_recv_ns=RECV,
        last_price="0",
    )


@pytest.mark.parametrize(
    ("sides", "expected"),
    [
        ({"taker_outcome_side": "yes", "taker_side": "no"}, "buy"),
        ({"taker_outcome_side": "no"}, "sell"),
        ({"taker_book_side": "bid"}, "buy"),
        ({"taker_book_side": "ask", "taker_side": "yes"}, "sell"),
        ({"taker_side": "yes"}, "buy"),
        ({}, None),
    ],
)
def test_trade_side_is_buy_when_the_taker_bought_yes(
    parser: KalshiParser, sides: dict[str, str], expected: str | None
) -> None:
    msg = {"trade_id": "t-1", "market_ticker": TICKER, "yes_price_dollars": "0.3600"}
    trade = _one(parser, _frame("trade", {**msg, "count_fp": "1.00", **sides}, seq=4))
    assert isinstance(trade, Trade)
    assert (trade.side, trade.price, trade.size, trade.seq) == (expected, "0.36", "1", 4)


def test_legacy_trade_in_cents(parser: KalshiParser) -> None:
    msg = {"trade_id": "t", "market_ticker": TICKER, "yes_price": 7, "count": 3, "ts": 5}
    trade = _one(parser, _frame("trade", msg))
    assert (trade.price, trade.size, trade.ts_event_ns) == ("0.07", "3", 5 * 10**9)


# -- lifecycle ----------------------------------------------------------------------------------
def _lifecycle(parser: KalshiParser, event_type: str, **fields: Any) -> Any:
    msg = {"market_ticker": TICKER, "event_type": event_type, **fields}
    return parser.parse(_frame("market_lifecycle_v2", msg, seq=7), RECV)


_S = 10**9
LIFECYCLE_STEPS: list[tuple[str, dict[str, Any], tuple[str, str | None, int]]] = [
    # (event_type, fields, (status, result, ts_event_ns))
    ("activated", {}, ("open", None, RECV)),
    ("deactivated", {"is_deactivated": True}, ("paused", None, RECV)),
    ("deactivated", {}, ("paused", None, RECV)),
    ("deactivated", {"is_deactivated": False}, ("open", None, RECV)),
    ("close_date_updated", {"close_ts": 1_700_000_000}, ("closed", None, 1_700_000_000 * _S)),
    (
        "determined",
        {"result": "yes", "determination_ts": 1_700_000_100},
        ("determined", "yes", 1_700_000_100 * _S),
    ),
    ("settled", {"settled_ts": 1_700_000_200}, ("settled", None, 1_700_000_200 * _S)),
    ("settled", {"result": "no"}, ("settled", "no", RECV)),
]


@pytest.mark.parametrize(("event_type", "fields", "expected"), LIFECYCLE_STEPS)
def test_lifecycle_changes_status(
    parser: KalshiParser,
    event_type: str,
    fields: dict[str, Any],
    expected: tuple[str, str | None, int],
) -> None:
    status, result, ts_event_ns = expected
    parsed = _lifecycle(parser, event_type, **fields)
    assert parsed.events == [
        MarketStatus(
            venue="kalshi",
            market=MARKET,
            ts_event_ns=ts_event_ns,
            ts_recv_ns=RECV,
            seq=7,
            status=status,  # type: ignore[arg-type]
            result=result,
        )
    ]
    assert isinstance(parsed.control, DataMark)
    assert (parsed.control.status, parsed.control.market) == (status, MARKET)


@pytest.mark.parametrize(
    ("event_type", "fields"),
    [
        ("close_date_updated", {"close_ts": 1_900_000_000}),  # later than the receive time
        ("created", {"open_ts": 1, "close_ts": 2}),
        ("metadata_updated", {"floor_strike": 53.5}),
        ("price_level_structure_updated", {"price_level_structure": "deci_cent"}),
        ("some_future_event", {}),
    ],
)
def test_lifecycle_without_a_status_change_gives_control_only(
    parser: KalshiParser, event_type: str, fields: dict[str, Any]
) -> None:
    parsed = _lifecycle(parser, event_type, **fields)
    assert parsed.events == []
    assert isinstance(parsed.control, DataMark)
    assert parsed.control.status is None
    assert parsed.control.detail is not None
    assert parsed.control.detail.event_type == event_type  # type: ignore[union-attr]


def test_strikes_are_exact_decimals(parser: KalshiParser) -> None:
    parsed = _lifecycle(parser, "metadata_updated", floor_strike=114999.99)
    assert str(parsed.control.detail.floor_strike) == "114999.99"


def test_settled_market_forgets_its_book(parser: KalshiParser) -> None:
    parser.parse(_snapshot([["0.3000", "1.00"]], None), RECV)
    _lifecycle(parser, "settled", result="yes")
    assert not parser.books.is_synced(TICKER)


# -- replies, unknown, private ------------------------------------------------------------------
@pytest.mark.parametrize(("code", "terminal"), [(25, True), (10, True), (26, False), (27, False)])
def test_subscription_errors_say_whether_they_are_terminal(
    parser: KalshiParser, code: int, terminal: bool
) -> None:
    frame = json.dumps(
        {"type": "error", "sid": 3, "seq": 12, "msg": {"code": code, "msg": "x"}}
    ).encode()
    error = parser.parse(frame, RECV).control
    assert isinstance(error, ErrorReply)
    assert (error.sid, error.seq, error.terminal) == (3, 12, terminal)


def test_error_with_unknown_code_and_market_tickers(parser: KalshiParser) -> None:
    msg = {"code": 99, "msg": "new", "market_tickers": ["A-B-C"], "market_ticker": "D-E-F"}
    error = parser.parse(json.dumps({"id": 4, "type": "error", "msg": msg}), RECV).control
    assert isinstance(error, ErrorReply)
    assert (error.code_text, error.market_tickers) == ("unknown error code 99", ["A-B-C", "D-E-F"])


def test_unknown_type_is_not_malformed(parser: KalshiParser) -> None:
    result = parser.parse(b'{"type":"ticker_v2","sid":"odd","seq":3,"msg":{}}', RECV)
    assert result.events == []
    assert result.control == UnknownMessage(type="ticker_v2", sid=None, seq=3)


def test_fill_is_control_with_its_market(parser: KalshiParser) -> None:
    msg = {"trade_id": "t", "order_id": "o", "market_ticker": TICKER, "is_taker": False}
    result = parser.parse(_frame("fill", msg), RECV)
    assert result.events == []
    assert isinstance(result.control, DataMark)
    assert (result.control.kind, result.control.market, result.control.seq) == (
        "fill",
        MARKET,
        None,
    )


# -- malformed ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"", "not JSON"),
        (b'{"type":"trade"', "not JSON"),
        (b"[1, 2]", "not a Kalshi frame"),
        (b'{"type": 5}', "not a Kalshi frame"),
        (b'{"sid": 1, "msg": {}}', "no 'type'"),
        (
            _frame(
                "orderbook_delta", {"market_ticker": TICKER, "side": "yes", "delta_fp": "1"}, seq=1
            ),
            "price_dollars",
        ),
        (
            _frame(
                "orderbook_delta",
                {"market_ticker": TICKER, "side": "yes", "price_dollars": "0.5"},
                seq=1,
            ),
            "delta_fp",
        ),
        (_delta("yes", "0.5", "abc"), "delta_fp"),
        (_delta("yes", "1.5", "1"), "price_dollars"),
        (_delta("yes", "-0.5", "1"), "price_dollars"),
        (_delta("maybe", "0.5", "1"), "side"),
        (_delta("yes", "0.5", "1", ts="yesterday"), "ts"),
        (_delta("yes", "0.5", "1", ts_ms=-1), "ts_ms"),
        (
            _frame(
                "orderbook_delta",
                {"market_ticker": TICKER, "side": "yes", "price_dollars": "0.5", "delta_fp": "1"},
            ),
            "seq",
        ),
        (_snapshot([["0.5", "-1.00"]], None), "yes_dollars_fp"),
        (_snapshot([["0.5"]], None), "yes_dollars_fp"),
        (
            json.dumps({"type": "ticker", "sid": "1", "msg": {"market_ticker": TICKER}}).encode(),
            "sid",
        ),
        (
            _frame("trade", {"trade_id": "t", "market_ticker": TICKER, "count_fp": "1"}),
            "yes_price_dollars",
        ),
        (
            _frame(
                "trade", {"trade_id": "t", "market_ticker": TICKER, "yes_price": 150, "count": 1}
            ),
            "yes_price",
        ),
        (_frame("market_lifecycle_v2", {"market_ticker": TICKER}), "event_type"),
        (
            _frame("trade", {"trade_id": "t", "market_ticker": TICKER, "yes_price": 5}),
            "count_fp",
        ),
        (
            _frame(
                "trade", {"trade_id": "t", "market_ticker": TICKER, "yes_price": 5, "count": -1}
            ),
            "count",
        ),
        (b'{"type":"subscribed","msg":{"channel":"ticker"}}', "sid"),
    ],
)
def test_malformed_frames_name_the_problem(parser: KalshiParser, frame: bytes, reason: str) -> None:
    with pytest.raises(MalformedFrame, match=reason) as caught:
        parser.parse(frame, RECV)
    assert caught.value.frame == frame


def test_str_frames_parse_like_bytes(parser: KalshiParser) -> None:
    frame = _snapshot([["0.5", "1"]], None)
    assert parser.parse(frame.decode(), RECV).events == KalshiParser().parse(frame, RECV).events


def test_book_delta_seq_is_the_frames_per_sid_seq(parser: KalshiParser) -> None:
    delta = _one(parser, _delta("yes", "0.5", "1", seq=41))
    assert isinstance(delta, BookDelta)
    assert delta.seq == 41


def test_settled_carries_the_result_that_determined_announced() -> None:
    parser = KalshiParser()

    def lifecycle(seq: int, body: dict[str, object]) -> list[object]:
        frame = {"type": "market_lifecycle_v2", "sid": 1, "seq": seq, "msg": body}
        return list(parser.parse(json.dumps(frame).encode(), 1_700_000_000_000_000_000).events)

    ticker = "KXT-26NOV21-B1"
    (determined,) = lifecycle(
        1,
        {
            "market_ticker": ticker,
            "event_type": "determined",
            "result": "no",
            "determination_ts": 1,
        },
    )
    (settled,) = lifecycle(2, {"market_ticker": ticker, "event_type": "settled", "settled_ts": 2})
    assert (determined.status, determined.result) == ("determined", "no")  # type: ignore[attr-defined]
    assert (settled.status, settled.result) == ("settled", "no")  # type: ignore[attr-defined]
