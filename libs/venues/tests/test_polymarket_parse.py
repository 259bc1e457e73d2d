"""PolymarketParser: market-channel frames into canonical events and control entries."""

from __future__ import annotations

import hashlib
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
    decode_event,
    encode_event,
)
from ssmd.venues.errors import MalformedFrame
from ssmd.venues.polymarket import requests
from ssmd.venues.polymarket.parse import (
    BookMismatch,
    KeepAlive,
    MirroredLegSkipped,
    NewMarket,
    NoBook,
    ParseResult,
    PolymarketParser,
    Resolved,
    TickSizeChange,
    UnknownAsset,
    UnknownEvent,
    UnsupportedEvent,
)
from ssmd.venues.polymarket.tokens import MarketTokens, TokenIndex

pytestmark = pytest.mark.unit

RECV = 1_700_000_000_123_456_789
CID = "0x" + "ab" * 32
YES = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
NO = "52114319501245915516055106046884209969926127482827954674443846427813813222426"
MARKET = f"polymarket:{CID}"
TS = "1757908892351"
TS_NS = 1_757_908_892_351_000_000


@pytest.fixture
def index() -> TokenIndex:
    return TokenIndex([MarketTokens(CID, None, YES, NO, slug="m", tick_size="0.01")])


@pytest.fixture
def parser(index: TokenIndex) -> PolymarketParser:
    return PolymarketParser(index)


def _frame(*messages: dict[str, Any], array: bool = False) -> bytes:
    if len(messages) == 1 and not array:
        return json.dumps(messages[0]).encode()
    return json.dumps(list(messages)).encode()


def _book(
    asset: str = YES, bids: Any = (("0.48", "30"), ("0.49", "20")), asks: Any = None
) -> dict[str, Any]:
    asks = (("0.52", "25"), ("0.51", "10")) if asks is None else asks
    return {
        "event_type": "book",
        "market": CID,
        "asset_id": asset,
        "timestamp": TS,
        "hash": "0x0",
        "bids": [{"price": p, "size": s} for p, s in bids],
        "asks": [{"price": p, "size": s} for p, s in asks],
    }


def _change(asset: str, price: str, size: str, side: str, *top: str) -> dict[str, Any]:
    """A new-format entry; `top` is the venue's (best_bid, best_ask) after it, if given."""
    entry = {"asset_id": asset, "price": price, "size": size, "side": side, "hash": "h"}
    if top:
        best_bid, best_ask = top
        entry |= {"best_bid": best_bid, "best_ask": best_ask}
    return entry


def _price_change(*entries: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_type": "price_change",
        "market": CID,
        "timestamp": TS,
        "price_changes": list(entries),
    }


def _trade(
    asset: str = YES, price: str = "0.51", side: str = "BUY", **extra: str
) -> dict[str, Any]:
    return {
        "event_type": "last_trade_price",
        "market": CID,
        "asset_id": asset,
        "price": price,
        "side": side,
        "size": "25.0",
        "fee_rate_bps": "0",
        "timestamp": TS,
        **extra,
    }


def _controls(result: ParseResult) -> tuple[object, ...]:
    return () if result.control is None else result.control.entries


# -- frame forms and control -------------------------------------------------------------
@pytest.mark.parametrize("frame", [b"PONG", "PONG", b"NO NEW ASSETS"])
def test_pong_and_no_new_assets_are_control_without_events(
    parser: PolymarketParser, frame: bytes | str
) -> None:
    result = parser.parse(frame, RECV)
    text = frame.decode() if isinstance(frame, bytes) else frame
    assert (result.events, _controls(result)) == ([], (KeepAlive(text),))


def test_array_frame_and_single_object_frames_give_the_same_events(
    parser: PolymarketParser, index: TokenIndex
) -> None:
    messages = [_book(), _price_change(_change(YES, "0.5", "15", "BUY", "0.5", "0.51")), _trade()]
    together = parser.parse(_frame(*messages, array=True), RECV)
    one_by_one = PolymarketParser(index)
    singles = [one_by_one.parse(_frame(m), RECV) for m in messages]
    assert together.events == [e for r in singles for e in r.events]
    assert [type(e) for e in together.events] == [BookSnapshot, BookDelta, Trade]
    assert together.control is None
    assert parser.parse(_frame(messages[2], array=True), RECV).events == singles[2].events


def test_every_event_has_venue_time_receive_time_and_no_sequence(parser: PolymarketParser) -> None:
    frame = _frame(_book(), _price_change(_change(YES, "0.5", "15", "BUY")), _trade(), array=True)
    for event in parser.parse(frame, RECV).events:
        assert (event.venue, event.market, event.ts_event_ns, event.ts_recv_ns, event.seq) == (
            "polymarket",
            MARKET,
            TS_NS,
            RECV,
            None,
        )
        assert decode_event(encode_event(event)) == event


def test_unknown_event_type_is_tolerated_and_the_rest_of_the_frame_is_read(
    parser: PolymarketParser,
) -> None:
    frame = _frame({"event_type": "sport_result", "x": 1}, _trade(), array=True)
    result = parser.parse(frame, RECV)
    assert [type(e) for e in result.events] == [Trade]
    assert _controls(result) == (UnknownEvent("sport_result"),)
    assert _controls(parser.parse(b'{"event_type":"brand_new"}', RECV)) == (
        UnknownEvent("brand_new"),
    )


@pytest.mark.parametrize("event_type", ["order", "trade"])
def test_user_channel_messages_are_unsupported_not_malformed(
    parser: PolymarketParser, event_type: str
) -> None:
    result = parser.parse(_frame({"event_type": event_type, "id": "x"}), RECV)
    assert (result.events, _controls(result)) == ([], (UnsupportedEvent(event_type),))


# -- the token index ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("message", "event_type"),
    [
        (_book(asset="42"), "book"),
        (_price_change(_change("42", "0.5", "1", "BUY")), "price_change"),
        (_trade(asset="42"), "last_trade_price"),
        (
            {
                "event_type": "best_bid_ask",
                "market": CID,
                "asset_id": "42",
                "best_bid": "0.1",
                "best_ask": "0.2",
                "timestamp": TS,
            },
            "best_bid_ask",
        ),
        (
            {
                "event_type": "tick_size_change",
                "market": CID,
                "asset_id": "42",
                "old_tick_size": "0.01",
                "new_tick_size": "0.001",
                "timestamp": TS,
            },
            "tick_size_change",
        ),
    ],
)
def test_a_token_not_in_the_index_gives_unknown_asset_and_no_events(
    message: dict[str, Any], event_type: str
) -> None:
    result = PolymarketParser(TokenIndex()).parse(_frame(message), RECV)
    assert (result.events, _controls(result)) == ([], (UnknownAsset("42", event_type),))


def test_the_parser_reads_the_index_live(index: TokenIndex) -> None:
    live = TokenIndex()
    parser = PolymarketParser(live)
    assert parser.parse(_frame(_trade()), RECV).events == []
    tokens = index.market_of(CID)
    assert tokens is not None
    live.add(tokens)
    assert [type(e) for e in parser.parse(_frame(_trade()), RECV).events] == [Trade]
    live.remove(CID)
    assert _controls(parser.parse(_frame(_trade()), RECV)) == (
        UnknownAsset(YES, "last_trade_price"),
    )


# -- book and price_change ---------------------------------------------------------------
def test_book_becomes_a_snapshot_best_first_with_canonical_texts(parser: PolymarketParser) -> None:
    message = _book(
        bids=((".48", "30"), (".50", "15.0"), (".49", "0")), asks=((".54", "10"), (".52", "25"))
    )
    [snapshot] = parser.parse(_frame(message), RECV).events
    assert isinstance(snapshot, BookSnapshot)
    assert snapshot.bids == [PriceLevel("0.5", "15"), PriceLevel("0.48", "30")]  # size 0 dropped
    assert snapshot.asks == [PriceLevel("0.52", "25"), PriceLevel("0.54", "10")]


def test_a_new_book_replaces_the_local_book(parser: PolymarketParser) -> None:
    parser.parse(_frame(_book()), RECV)
    parser.parse(_frame(_book(bids=(("0.3", "1"),), asks=(("0.9", "2"),))), RECV)
    book = parser.local_book(CID)
    assert book is not None
    assert (book.bids(), book.asks()) == ([PriceLevel("0.3", "1")], [PriceLevel("0.9", "2")])


def test_old_and_new_price_change_formats_give_the_same_delta(index: TokenIndex) -> None:
    new = _price_change(_change(YES, "0.514", "21574.08", "SELL"), _change(YES, "0.5", "0", "BUY"))
    old = {
        "event_type": "price_change",
        "market": CID,
        "timestamp": TS,
        "asset_id": YES,
        "hash": "h",
        "changes": [
            {"price": "0.514", "side": "SELL", "size": "21574.08"},
            {"price": "0.5", "side": "BUY", "size": "0"},
        ],
    }
    flat = {
        "event_type": "price_change",
        "market": CID,
        "timestamp": TS,
        "asset_id": YES,
        "hash": "h",
        "price": "0.514",
        "side": "SELL",
        "size": "21574.08",
    }
    expected = [
        LevelChange(side="ask", price="0.514", size="21574.08"),
        LevelChange(side="bid", price="0.5", size="0"),
    ]
    [from_new] = PolymarketParser(index).parse(_frame(new), RECV).events
    [from_old] = PolymarketParser(index).parse(_frame(old), RECV).events
    [from_flat] = PolymarketParser(index).parse(_frame(flat), RECV).events
    assert isinstance(from_new, BookDelta)
    assert from_new.changes == expected
    assert from_old == from_new
    assert isinstance(from_flat, BookDelta)
    assert from_flat.changes == expected[:1]


def test_price_change_before_any_book_is_emitted_with_no_book(parser: PolymarketParser) -> None:
    result = parser.parse(_frame(_price_change(_change(YES, "0.5", "10", "BUY", "0.5", "1"))), RECV)
    assert [type(e) for e in result.events] == [BookDelta]
    assert _controls(result) == (NoBook(MARKET),)
    assert parser.local_book(CID) is None


def test_no_token_book_data_gives_no_events_but_is_counted(parser: PolymarketParser) -> None:
    result = parser.parse(_frame(_book(asset=NO)), RECV)
    assert (result.events, _controls(result)) == ([], (MirroredLegSkipped(MARKET, NO, "book", 1),))
    parser.parse(_frame(_book()), RECV)
    both = _price_change(
        _change(YES, "0.5", "200", "BUY", "0.5", "0.51"),
        _change(NO, "0.5", "200", "SELL", "0.49", "0.5"),
        _change(NO, "0.6", "0", "SELL", "0.49", "0.5"),
    )
    result = parser.parse(_frame(both), RECV)
    [delta] = result.events
    assert isinstance(delta, BookDelta)
    assert delta.changes == [LevelChange(side="bid", price="0.5", size="200")]
    assert _controls(result) == (MirroredLegSkipped(MARKET, NO, "price_change", 2),)


def test_venue_best_prices_that_agree_with_the_local_book_give_no_mismatch(
    parser: PolymarketParser,
) -> None:
    parser.parse(_frame(_book()), RECV)  # bids 0.49, 0.48; asks 0.51, 0.52
    agree = _price_change(_change(YES, "0.51", "0", "SELL", "0.49", "0.52"))
    assert parser.parse(_frame(agree), RECV).control is None


def test_venue_best_prices_that_disagree_give_book_mismatch(parser: PolymarketParser) -> None:
    parser.parse(_frame(_book()), RECV)
    # The venue says the best bid is 0.5: a price_change that set it was lost.
    lost = _price_change(_change(YES, "0.52", "30", "SELL", "0.50", "0.51"))
    result = parser.parse(_frame(lost), RECV)
    assert [type(e) for e in result.events] == [BookDelta]
    assert _controls(result) == (BookMismatch(MARKET, YES, "0.5", "0.51", "0.49", "0.51"),)


def test_empty_sides_read_as_zero_bid_and_one_ask(parser: PolymarketParser) -> None:
    parser.parse(_frame(_book(bids=(), asks=(("0.6", "5"),))), RECV)
    empty_bids = _price_change(_change(YES, "0.6", "0", "SELL", "0", "1"))
    assert parser.parse(_frame(empty_bids), RECV).control is None
    book = parser.local_book(CID)
    assert book is not None
    assert (book.best_bid, book.best_ask) == (None, None)


def test_only_the_last_entry_of_the_yes_token_is_compared(parser: PolymarketParser) -> None:
    parser.parse(_frame(_book()), RECV)
    # Values after the first entry would be (0.5, 0.51); after the frame they are (0.5, 0.505).
    frame = _price_change(
        _change(YES, "0.5", "10", "BUY", "0.5", "0.505"),
        _change(YES, "0.505", "10", "SELL", "0.5", "0.505"),
        _change(NO, "0.5", "10", "SELL", "0.1", "0.2"),  # NO values are not compared
    )
    assert BookMismatch not in {type(c) for c in _controls(parser.parse(_frame(frame), RECV))}


def test_forget_drops_the_local_book(parser: PolymarketParser) -> None:
    parser.parse(_frame(_book()), RECV)
    parser.forget(CID)
    assert parser.local_book(CID) is None


# -- trades and quotes -------------------------------------------------------------------
def test_yes_trade_is_kept_as_sent_and_no_trade_is_mirrored(parser: PolymarketParser) -> None:
    [yes] = parser.parse(_frame(_trade(price="0.51", side="BUY")), RECV).events
    [no] = parser.parse(_frame(_trade(asset=NO, price="0.49", side="SELL")), RECV).events
    assert isinstance(yes, Trade)
    assert isinstance(no, Trade)
    assert (yes.price, yes.size, yes.side) == ("0.51", "25", "buy")
    assert (no.price, no.size, no.side) == (
        "0.51",
        "25",
        "buy",
    )  # SELL NO at 0.49 = BUY YES at 0.51


def test_trade_id_is_the_transaction_hash_when_sent(parser: PolymarketParser) -> None:
    tx = "0x" + "cd" * 32
    [trade] = parser.parse(_frame(_trade(transaction_hash=tx)), RECV).events
    assert isinstance(trade, Trade)
    assert trade.trade_id == tx


def test_trade_id_without_transaction_hash_is_a_deterministic_digest(
    parser: PolymarketParser,
) -> None:
    [first] = parser.parse(_frame(_trade()), RECV).events
    [again] = parser.parse(_frame(_trade()), RECV + 5).events
    [other] = parser.parse(_frame(_trade(price="0.52")), RECV).events
    assert isinstance(first, Trade)
    expected = hashlib.sha256(f"{YES}|{TS}|0.51|25.0|BUY".encode()).hexdigest()[:32]
    assert first.trade_id == expected
    assert getattr(again, "trade_id", None) == expected
    assert getattr(other, "trade_id", None) != expected


def test_best_bid_ask_of_the_no_token_becomes_the_mirrored_yes_quote(
    parser: PolymarketParser,
) -> None:
    message = {
        "event_type": "best_bid_ask",
        "market": CID,
        "asset_id": NO,
        "best_bid": "0.23",
        "best_ask": "0.27",
        "spread": "0.04",
        "timestamp": TS,
    }
    [quote] = parser.parse(_frame(message), RECV).events
    assert isinstance(quote, Quote)
    assert (quote.bid_price, quote.ask_price, quote.last_price) == ("0.73", "0.77", None)
    message |= {"best_bid": "0", "best_ask": "1"}  # both sides empty
    [empty] = parser.parse(_frame(message), RECV).events
    assert isinstance(empty, Quote)
    assert (empty.bid_price, empty.ask_price) == (None, None)


# -- custom-feature messages -------------------------------------------------------------
def _new_market(outcomes: list[str], assets: list[str]) -> dict[str, Any]:
    return {
        "event_type": "new_market",
        "id": "1",
        "question": "Q?",
        "market": CID,
        "slug": "q",
        "assets_ids": assets,
        "outcomes": outcomes,
        "timestamp": TS,
        "condition_id": CID,
        "order_price_min_tick_size": "0.010",
    }


@pytest.mark.parametrize(
    ("outcomes", "assets", "yes", "no"),
    [
        (["Yes", "No"], [YES, NO], YES, NO),
        (["No", "Yes"], [NO, YES], YES, NO),
        (["FaZe", "illwill"], [NO, YES], NO, YES),
    ],
)
def test_new_market_maps_the_yes_outcome_to_the_yes_token(
    outcomes: list[str], assets: list[str], yes: str, no: str
) -> None:
    result = PolymarketParser(TokenIndex()).parse(_frame(_new_market(outcomes, assets)), RECV)
    assert result.events == []
    [new] = _controls(result)
    assert isinstance(new, NewMarket)
    assert new.tokens == MarketTokens(CID, None, yes, no, slug="q", tick_size="0.01")
    assert (new.question, new.ts_event_ns, new.assets_ids) == ("Q?", TS_NS, tuple(assets))


def test_new_market_that_is_not_binary_carries_no_tokens() -> None:
    message = _new_market(["A", "B", "C"], [YES, NO, "7"])
    [new] = _controls(PolymarketParser(TokenIndex()).parse(_frame(message), RECV))
    assert isinstance(new, NewMarket)
    assert new.tokens is None
    assert new.outcomes == ("A", "B", "C")


def test_market_resolved_gives_settled_status_and_resolved_control(
    parser: PolymarketParser,
) -> None:
    message = {
        "event_type": "market_resolved",
        "id": "1",
        "market": CID,
        "assets_ids": [YES, NO],
        "winning_asset_id": NO,
        "winning_outcome": "No",
        "timestamp": TS,
    }
    result = parser.parse(_frame(message), RECV)
    assert result.events == [
        MarketStatus(
            venue="polymarket",
            market=MARKET,
            ts_event_ns=TS_NS,
            ts_recv_ns=RECV,
            status="settled",
            result="No",
        )
    ]
    assert _controls(result) == (Resolved(MARKET, NO, "No"),)
    unknown = PolymarketParser(TokenIndex()).parse(_frame(message), RECV)
    assert _controls(unknown) == (UnknownAsset(NO, "market_resolved"),)


def test_tick_size_change_is_control(parser: PolymarketParser) -> None:
    message = {
        "event_type": "tick_size_change",
        "market": CID,
        "asset_id": YES,
        "old_tick_size": "0.01",
        "new_tick_size": "0.001",
        "timestamp": TS,
    }
    result = parser.parse(_frame(message), RECV)
    assert result.events == []
    assert _controls(result) == (
        TickSizeChange(
            market=MARKET,
            asset_id=YES,
            old_tick_size="0.01",
            new_tick_size="0.001",
            ts_event_ns=TS_NS,
        ),
    )


# -- malformed ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"not json", "not JSON"),
        (b"", "not JSON"),
        (b"42", "neither a JSON object nor an array"),
        (b"[1]", "not an event object"),
        (b'{"market": "x"}', "event_type: missing"),
        (_frame(_book() | {"bids": [{"price": "0.5"}]}), "missing required field `size`"),
        (_frame(_book() | {"timestamp": 1757908892351}), "`$.timestamp`"),
        (_frame(_book(bids=(("abc", "1"),))), "bids.price: not a decimal number: 'abc'"),
        (_frame(_book(bids=(("1.5", "1"),))), "bids.price: price outside [0, 1]"),
        (_frame(_book(bids=(("0.5", "-1"),))), "bids.size: not a decimal number: '-1'"),
        (_frame(_book() | {"timestamp": "soon"}), "timestamp: not a Unix time in ms"),
        (_frame(_trade(side="HOLD")), "`$.side`"),
        (_frame(_trade(price="1e-2")), "price: not a decimal number"),
        (
            _frame({"event_type": "price_change", "market": CID, "timestamp": TS}),
            "has neither 'price_changes' nor 'asset_id'",
        ),
        (
            _frame({"event_type": "price_change", "market": CID, "timestamp": TS, "asset_id": YES}),
            "old format without 'changes'",
        ),
    ],
)
def test_malformed_frames_raise_with_a_reason_naming_the_field(
    parser: PolymarketParser, frame: bytes, reason: str
) -> None:
    with pytest.raises(MalformedFrame) as caught:
        parser.parse(frame, RECV)
    assert reason in caught.value.reason
    assert caught.value.frame == frame


def test_a_malformed_array_frame_drops_the_books_it_touched(parser: PolymarketParser) -> None:
    bad = _price_change(_change(YES, "0.5", "10", "BUY"), _change(YES, "x", "1", "BUY"))
    with pytest.raises(MalformedFrame):
        parser.parse(_frame(_book(), bad, array=True), RECV)
    assert parser.local_book(CID) is None  # the book message was applied, then dropped
    parser.parse(_frame(_book()), RECV)
    with pytest.raises(MalformedFrame):
        parser.parse(_frame(bad), RECV)
    book = parser.local_book(CID)
    assert book is not None  # nothing of the bad single message was applied: book kept
    assert book.bids()[0] == PriceLevel("0.49", "20")


# -- requests ----------------------------------------------------------------------------
def test_initial_subscribe_frame() -> None:
    assert json.loads(requests.initial_subscribe([YES, NO])) == {
        "assets_ids": [YES, NO],
        "type": "market",
        "custom_feature_enabled": True,
        "initial_dump": True,
    }
    frame = requests.initial_subscribe(
        iter([YES]), custom_feature_enabled=False, initial_dump=False
    )
    assert json.loads(frame) == {
        "assets_ids": [YES],
        "type": "market",
        "custom_feature_enabled": False,
        "initial_dump": False,
    }


def test_subscribe_and_unsubscribe_frames() -> None:
    assert json.loads(requests.subscribe([YES])) == {
        "assets_ids": [YES],
        "operation": "subscribe",
        "custom_feature_enabled": True,
    }
    assert json.loads(requests.unsubscribe([YES, NO])) == {
        "assets_ids": [YES, NO],
        "operation": "unsubscribe",
        "custom_feature_enabled": True,
    }
    assert (
        json.loads(requests.subscribe([], custom_feature_enabled=False))["custom_feature_enabled"]
        is False
    )
    assert requests.PING == b"PING"
