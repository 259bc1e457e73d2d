"""Every Polymarket fixture file is read, with the right result.

Market-channel messages become canonical events whose values are checked against the file
(expected values are computed here from the JSON with Decimal, independently of the parser);
user-channel messages are reported unsupported by the market parser; Gamma and CLOB metadata
bodies are parsed by `rest`; trading, data-API and RTDS bodies are out of scope for the
market parser and are never mistaken for market data. A fixture file without a reader here
fails the test named after it. Token indexes are built from the ids in the files themselves.
"""

from __future__ import annotations

import hashlib
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
    MarketEvent,
    MarketStatus,
    Quote,
    Trade,
    decode_event,
    encode_event,
)
from ssmd.testing.fixtures import venue_fixtures_dir
from ssmd.venues.errors import MalformedFrame
from ssmd.venues.polymarket import rest
from ssmd.venues.polymarket.parse import (
    MirroredLegSkipped,
    NewMarket,
    ParseResult,
    PolymarketParser,
    Resolved,
    TickSizeChange,
    UnsupportedEvent,
)
from ssmd.venues.polymarket.tokens import MarketTokens, TokenIndex

pytestmark = pytest.mark.unit

RECV = 1_700_000_000_123_456_789
ROOT = venue_fixtures_dir() / "polymarket"
FILES = sorted(path for path in ROOT.rglob("*") if path.is_file()) if ROOT.is_dir() else []
OTHER_TOKEN = "1"
"""The other leg of a market when a file names only one token."""


def _json(path: Path) -> Any:
    return json.loads(path.read_bytes())


def _cid(text: str) -> str:
    """A fixture's condition id, or a stand-in when the file's is not a real one."""
    lowered = text.lower()
    if len(lowered) == 66:
        return lowered
    return "0x" + hashlib.sha256(text.encode()).hexdigest()


def _parse(message: dict[str, Any], *, yes: str, no: str) -> ParseResult:
    index = TokenIndex([MarketTokens(_cid(message["market"]), None, yes, no)])
    return PolymarketParser(index).parse(json.dumps(message).encode(), RECV)


def _with_type(path: Path, event_type: str) -> dict[str, Any]:
    """nautilus keeps some messages without ``event_type`` (they decode the inner struct)."""
    message: dict[str, Any] = _json(path)
    if "event_type" not in message:
        with pytest.raises(MalformedFrame, match="event_type: missing"):
            PolymarketParser(TokenIndex()).parse(path.read_bytes(), RECV)
        message["event_type"] = event_type
    assert message["event_type"] == event_type
    return message


def _round_trips(events: list[MarketEvent]) -> None:
    for event in events:
        assert decode_event(encode_event(event)) == event
        assert event.seq is None


def _ms(text: str) -> int:
    return int(text) * 1_000_000


def _dec(text: str) -> Decimal:
    return Decimal(text)


# -- market channel ----------------------------------------------------------------------
def _book(path: Path) -> int:
    message = _with_type(path, "book")
    result = _parse(message, yes=message["asset_id"], no=OTHER_TOKEN)
    _round_trips(result.events)
    [snapshot] = result.events
    assert isinstance(snapshot, BookSnapshot)
    assert snapshot.ts_event_ns == _ms(message["timestamp"])
    for side, descending in (("bids", True), ("asks", False)):
        expected = sorted(
            ((_dec(lv["price"]), _dec(lv["size"])) for lv in message[side] if _dec(lv["size"])),
            reverse=descending,
        )
        got = [(_dec(lv.price), _dec(lv.size)) for lv in getattr(snapshot, side)]
        assert got == expected, side
    assert _dec(snapshot.bids[0].price) < _dec(snapshot.asks[0].price)
    # The NO token's book is the mirror: no events, one counted skip.
    mirrored = _parse(message, yes=OTHER_TOKEN, no=message["asset_id"])
    assert mirrored.events == []
    assert mirrored.control is not None
    assert mirrored.control.of_type(MirroredLegSkipped)[0].entries == 1
    return len(snapshot.bids) + len(snapshot.asks)


def _price_change(path: Path) -> int:
    message = _with_type(path, "price_change")
    entries = message.get("price_changes") or [message]  # old flat format: one change on top
    yes = entries[0]["asset_id"]
    others = [e["asset_id"] for e in entries if e["asset_id"] != yes]
    result = _parse(message, yes=yes, no=others[0] if others else OTHER_TOKEN)
    _round_trips(result.events)
    [delta] = result.events
    assert isinstance(delta, BookDelta)
    assert delta.ts_event_ns == _ms(message["timestamp"])
    expected = [
        (
            "bid" if e["side"] == "BUY" else "ask",
            _dec(e["price"]),
            _dec(e["size"]),
        )
        for e in entries
        if e["asset_id"] == yes
    ]
    assert [(c.side, _dec(c.price), _dec(c.size)) for c in delta.changes] == expected
    if others:
        assert result.control is not None
        [skipped] = result.control.of_type(MirroredLegSkipped)
        assert skipped.entries == len(others)
    return len(delta.changes)


def _last_trade(path: Path) -> int:
    message = _with_type(path, "last_trade_price")
    price, side = _dec(message["price"]), message["side"].lower()
    [trade] = _parse(message, yes=message["asset_id"], no=OTHER_TOKEN).events
    assert isinstance(trade, Trade)
    _round_trips([trade])
    assert (_dec(trade.price), _dec(trade.size), trade.side) == (
        price,
        _dec(message["size"]),
        side,
    )
    assert trade.ts_event_ns == _ms(message["timestamp"])
    key = "|".join(message[k] for k in ("asset_id", "timestamp", "price", "size", "side"))
    assert trade.trade_id == message.get("transaction_hash") or (
        trade.trade_id == hashlib.sha256(key.encode()).hexdigest()[:32]
    )
    # The same trade on the NO token: the YES trade at 1 - price, the other side.
    [mirrored] = _parse(message, yes=OTHER_TOKEN, no=message["asset_id"]).events
    assert isinstance(mirrored, Trade)
    assert _dec(mirrored.price) == 1 - price
    assert mirrored.side == {"buy": "sell", "sell": "buy"}[side]
    return 1


def _best_bid_ask(path: Path) -> int:
    message = _with_type(path, "best_bid_ask")
    bid, ask = _dec(message["best_bid"]), _dec(message["best_ask"])
    [quote] = _parse(message, yes=message["asset_id"], no=OTHER_TOKEN).events
    assert isinstance(quote, Quote)
    assert (_dec(quote.bid_price or "-1"), _dec(quote.ask_price or "-1")) == (bid, ask)
    assert _dec(message["spread"]) == ask - bid
    [mirrored] = _parse(message, yes=OTHER_TOKEN, no=message["asset_id"]).events
    assert isinstance(mirrored, Quote)
    assert (mirrored.bid_price, mirrored.ask_price) == (str(1 - ask), str(1 - bid))
    return 1


def _tick_size(path: Path) -> int:
    message = _with_type(path, "tick_size_change")
    result = _parse(message, yes=message["asset_id"], no=OTHER_TOKEN)
    assert result.events == []
    assert result.control is not None
    [change] = result.control.of_type(TickSizeChange)
    assert (_dec(change.old_tick_size), _dec(change.new_tick_size)) == (
        _dec(message["old_tick_size"]),
        _dec(message["new_tick_size"]),
    )
    return 1


def _new_market(path: Path) -> int:
    message = _with_type(path, "new_market")
    result = PolymarketParser(TokenIndex()).parse(path.read_bytes(), RECV)
    assert result.events == []
    assert result.control is not None
    [new] = result.control.of_type(NewMarket)
    assert new.tokens is not None
    yes_index = [o.lower() for o in message["outcomes"]].index("yes")
    assert new.tokens.yes_token_id == message["assets_ids"][yes_index]
    assert new.tokens.no_token_id == message["assets_ids"][1 - yes_index]
    assert new.tokens.condition_id == message["condition_id"]
    assert (new.slug, new.question) == (message["slug"], message["question"])
    assert new.tokens.tick_size == message["order_price_min_tick_size"]
    return 1


def _resolved(path: Path) -> int:
    message = _with_type(path, "market_resolved")
    yes, no = message["assets_ids"]
    result = _parse(message, yes=yes, no=no)
    [status] = result.events
    assert isinstance(status, MarketStatus)
    assert (status.status, status.result) == ("settled", message["winning_outcome"])
    assert status.market == f"polymarket:{message['market']}"
    assert result.control is not None
    [resolved] = result.control.of_type(Resolved)
    assert resolved.winning_asset_id == message["winning_asset_id"]
    return 1


def _user_channel(event_type: str) -> Callable[[Path], int]:
    def read(path: Path) -> int:
        message = _with_type(path, event_type)
        result = PolymarketParser(TokenIndex()).parse(json.dumps(message).encode(), RECV)
        assert result.events == []
        assert result.control is not None
        assert result.control.entries == (UnsupportedEvent(event_type),)
        return 1

    return read


def _not_market_data(path: Path) -> int:
    """Trading, data-API and RTDS bodies: out of scope, never taken for market data."""
    body = _json(path)
    items = body if isinstance(body, list) else [body]
    assert all("event_type" not in item for item in items)
    with pytest.raises(MalformedFrame, match="event_type: missing"):
        PolymarketParser(TokenIndex()).parse(path.read_bytes(), RECV)
    return len(items)


# -- REST --------------------------------------------------------------------------------
def _gamma_market(path: Path) -> int:
    market = rest.parse_gamma_market(path.read_bytes())
    body = _json(path)
    assert market.condition_id == body["conditionId"]
    token_ids = body["clobTokenIds"]
    token_ids = json.loads(token_ids) if isinstance(token_ids, str) else token_ids
    assert list(market.clob_token_ids) == token_ids
    tokens = market.tokens()
    outcomes = json.loads(body.get("outcomes", "[]"))
    if body.get("enableOrderBook") and len(outcomes) == 2:
        assert tokens is not None
        assert (tokens.yes_token_id, tokens.no_token_id) == tuple(token_ids)  # first is YES
        assert tokens.tick_size == str(body["orderPriceMinTickSize"])
    else:  # legacy AMM markets (scalar, zero-zero) and markets without outcomes
        assert tokens is None
    return len(market.clob_token_ids)


def _gamma_markets(path: Path) -> int:
    markets = rest.parse_gamma_markets(path.read_bytes())
    assert [m.condition_id for m in markets] == [m["conditionId"] for m in _json(path)]
    assert all(m.tokens() is None for m in markets)  # no outcomes, no enableOrderBook here
    return len(markets)


def _gamma_events(path: Path) -> int:
    body = _json(path)
    events = rest.parse_gamma_events(path.read_bytes())
    assert [e.id for e in events] == [e["id"] for e in body]
    assert [len(e.markets) for e in events] == [len(e["markets"]) for e in body]
    markets = [m for e in events for m in e.markets]
    assert all(m.tokens() is not None for m in markets if m.enable_order_book)
    return len(markets)


def _gamma_event(path: Path) -> int:
    event = rest.parse_gamma_event(path.read_bytes())
    body = _json(path)
    assert (event.id, event.slug) == (body["id"], body["slug"])
    assert [m.condition_id for m in event.markets] == [m["conditionId"] for m in body["markets"]]
    return len(event.markets)


def _gamma_search(path: Path) -> int:
    events, has_more = rest.parse_gamma_search(path.read_bytes())
    assert has_more is _json(path)["pagination"]["hasMore"]
    return sum(len(e.markets) for e in events)


def _gamma_tags(path: Path) -> int:
    tags = rest.parse_gamma_tags(path.read_bytes())
    assert [t.slug for t in tags] == [t["slug"] for t in _json(path)]
    return len(tags)


def _clob_market(path: Path) -> int:
    body = _json(path)
    market = rest.parse_clob_market(path.read_bytes())
    assert market.condition_id == body["condition_id"]
    assert [(t.token_id, t.outcome, t.winner) for t in market.outcome_tokens] == [
        (t["token_id"], t["outcome"], t["winner"]) for t in body["tokens"]
    ]
    assert market.tick_size == str(body["minimum_tick_size"])
    tokens = market.tokens(require_order_book=False)
    assert tokens is not None
    assert tokens.yes_token_id == next(
        t["token_id"] for t in body["tokens"] if t["outcome"] == "Yes"
    )
    assert (market.tokens() is None) is (not body["enable_order_book"])
    return len(market.outcome_tokens)


def _clob_markets_page(path: Path) -> int:
    body = _json(path)
    markets, cursor = rest.parse_clob_markets_page(path.read_bytes())
    assert cursor == body["next_cursor"]
    assert len(markets) == body["count"]
    return len(markets)


def _clob_book(path: Path) -> int:
    body = _json(path)
    book = rest.parse_token_book(path.read_bytes())
    assert book.asset_id == body["asset_id"]
    best_bid = max(_dec(level["price"]) for level in body["bids"])
    best_ask = min(_dec(level["price"]) for level in body["asks"])
    assert (_dec(book.bids[0].price), _dec(book.asks[0].price)) == (best_bid, best_ask)
    index = TokenIndex([MarketTokens(_cid(body["market"]), None, body["asset_id"], OTHER_TOKEN)])
    snapshot = rest.parse_book(path.read_bytes(), RECV, index)
    assert (snapshot.bids, snapshot.asks, snapshot.ts_event_ns) == (
        book.bids,
        book.asks,
        _ms(body["timestamp"]),
    )
    return len(book.bids) + len(book.asks)


def _fee_rate(path: Path) -> int:
    assert rest.parse_fee_rate(path.read_bytes()) == _json(path)["base_fee"]
    return 1


READERS: list[tuple[str, Callable[[Path], int]]] = [
    ("captured/ws_book_snapshot", _book),
    ("py_ws_messages/book.json", _book),
    ("py_ws_messages/last_trade_price.json", _last_trade),
    ("py_ws_messages/price_change", _price_change),
    ("py_ws_messages/tick_size_change.json", _tick_size),
    ("py_ws_messages/order_", _user_channel("order")),
    ("py_ws_messages/user_trade", _user_channel("trade")),
    ("py_ws_messages/trades.json", _user_channel("trade")),
    ("py_http_responses/book.json", _clob_book),
    ("py_http_responses/event.json", _gamma_event),
    ("py_http_responses/events_list.json", _gamma_events),
    ("py_http_responses/market.json", _clob_market),
    ("py_http_responses/market_slug.json", _gamma_market),
    ("py_http_responses/markets.json", _clob_markets_page),
    ("py_http_responses/markets_list.json", _gamma_markets),
    ("py_http_responses/trades.json", _not_market_data),
    ("rust_test_data/ws_book_snapshot.json", _book),
    ("rust_test_data/ws_market_book_msg.json", _book),
    ("rust_test_data/ws_last_trade.json", _last_trade),
    ("rust_test_data/ws_market_last_trade_msg.json", _last_trade),
    ("rust_test_data/ws_market_price_change_msg.json", _price_change),
    ("rust_test_data/ws_quotes.json", _price_change),
    ("rust_test_data/ws_market_best_bid_ask_msg.json", _best_bid_ask),
    ("rust_test_data/ws_market_tick_size_msg.json", _tick_size),
    ("rust_test_data/ws_tick_size_change.json", _tick_size),
    ("rust_test_data/ws_market_new_market_msg.json", _new_market),
    ("rust_test_data/ws_market_resolved_msg.json", _resolved),
    ("rust_test_data/ws_user_order_", _user_channel("order")),
    ("rust_test_data/ws_user_trade", _user_channel("trade")),
    ("rust_test_data/clob_book_response.json", _clob_book),
    ("rust_test_data/clob_fee_rate_response_", _fee_rate),
    ("rust_test_data/clob_market_", _clob_market),
    ("rust_test_data/gamma_event.json", _gamma_events),
    ("rust_test_data/gamma_market", _gamma_market),
    ("rust_test_data/gamma_tags.json", _gamma_tags),
    ("rust_test_data/search_response.json", _gamma_search),
    ("rust_test_data/data_api_", _not_market_data),
    ("rust_test_data/http_", _not_market_data),
    ("rust_test_data/rtds_", _not_market_data),
]


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_every_fixture_file_is_read(path: Path) -> None:
    name = str(path.relative_to(ROOT / "nautilus_trader"))
    readers = [read for prefix, read in READERS if name.startswith(prefix)]
    assert readers, f"no reader for fixture {name}: add one to READERS"
    assert readers[0](path) > 0


def test_the_fixture_directory_is_there() -> None:
    assert len(FILES) >= 76, f"expected the Polymarket fixtures under {ROOT}"


def test_captured_book_is_sorted_best_first_although_the_venue_prints_it_worst_first() -> None:
    path = ROOT / "nautilus_trader" / "captured" / "ws_book_snapshot_captured.json"
    message = _json(path)
    printed_bids = [_dec(level["price"]) for level in message["bids"]]
    printed_asks = [_dec(level["price"]) for level in message["asks"]]
    assert printed_bids == sorted(printed_bids)  # ascending on the wire
    assert printed_asks == sorted(printed_asks, reverse=True)  # descending on the wire
    [snapshot] = _parse(message, yes=message["asset_id"], no=OTHER_TOKEN).events
    assert isinstance(snapshot, BookSnapshot)
    assert (snapshot.bids[0].price, snapshot.asks[0].price) == ("0.07", "0.08")
    assert (len(snapshot.bids), len(snapshot.asks)) == (len(printed_bids), len(printed_asks))


def test_nautilus_price_change_v2_gives_three_bid_changes_in_venue_order() -> None:
    path = ROOT / "nautilus_trader" / "py_ws_messages" / "price_change_v2.json"
    message = _json(path)
    [delta] = _parse(message, yes=message["price_changes"][0]["asset_id"], no="1").events
    assert isinstance(delta, BookDelta)
    assert delta.changes == [
        LevelChange(side="bid", price="0.6", size="3300"),
        LevelChange(side="bid", price="0.5", size="3400"),
        LevelChange(side="bid", price="0.7", size="3400"),
    ]
