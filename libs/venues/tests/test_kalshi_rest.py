"""Kalshi REST bodies: reference data, YES-leg order books, trades, errors and pagination."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from ssmd.contracts.events import PriceLevel, decode_event, encode_event
from ssmd.testing.fixtures import venue_fixture
from ssmd.venues.errors import MalformedFrame, VenueBusyError, VenueRejectedError
from ssmd.venues.kalshi.rest import (
    Market,
    Page,
    paginate,
    parse_event,
    parse_events,
    parse_market,
    parse_markets,
    parse_orderbook,
    parse_series,
    parse_trades,
    venue_error,
)

pytestmark = pytest.mark.unit

RECV = 1_800_000_000_000_000_000


def _ccxt(name: str) -> Path:
    return venue_fixture(f"kalshi/ccxt_static_response/{name}")


def test_real_market_body_keeps_every_field_as_sent() -> None:
    market = parse_market(_ccxt("get_market_KXELONMARS-99.json").read_bytes())
    assert market.market == "kalshi:KXELONMARS-99"
    assert (market.yes_bid_dollars, market.yes_bid_size_fp) == ("0.0800", "444.32")
    assert (market.no_bid_dollars, market.no_ask_dollars) == ("0.8800", "0.9200")
    assert market.close_time == "2099-08-01T04:59:00Z"
    assert market.settlement_timer_seconds == "1800"
    assert market.settlement_timer_s == 1800
    assert market.can_close_early is True
    # Encoding back gives the same fields (absent ones stay absent).
    original = json.loads(_ccxt("get_market_KXELONMARS-99.json").read_text())["market"]
    assert json.loads(msgspec.json.encode(market)) == original


def test_real_order_book_matches_the_markets_top_of_book() -> None:
    body = _ccxt("get_orderbook_KXELONMARS-99.json").read_bytes()
    book = parse_orderbook(body, "KXELONMARS-99", RECV)
    market = parse_market(_ccxt("get_market_KXELONMARS-99.json").read_bytes())
    assert book.bids[0] == PriceLevel("0.08", "444.32")
    assert (book.asks[0].price, book.asks[0].size) == ("0.12", market.yes_ask_size_fp)
    assert market.yes_ask_dollars == "0.1200"
    # Last NO level 0.01 x 13553 is the highest YES ask 0.99.
    assert book.asks[-1] == PriceLevel("0.99", "13553")
    prices = [level.price for level in book.asks]
    assert prices == sorted(prices)  # ascending: best (lowest) first
    assert decode_event(encode_event(book)) == book


def test_legacy_order_book_in_cents_with_null_sides() -> None:
    body = b'{"orderbook": {"yes": [[1, 200], [15, 100]], "no": null}}'
    book = parse_orderbook(body, "KX-1", RECV)
    assert (book.bids, book.asks) == ([PriceLevel("0.15", "100"), PriceLevel("0.01", "200")], [])
    dollars = b'{"orderbook": {"no_dollars": [["0.4000", 7]]}}'
    assert parse_orderbook(dollars, "KX-1", RECV).asks == [PriceLevel("0.6", "7")]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{}", "orderbook_fp"),
        (b'{"orderbook_fp": {"yes_dollars": [["1.2", "1.00"]]}}', "orderbook_fp.yes_dollars"),
        (b'{"orderbook_fp": {"no_dollars": [["0.2", "-1.00"]]}}', "orderbook_fp.no_dollars"),
        (b'{"orderbook_fp": {"no_dollars": "none"}}', "no_dollars"),
        (b"<html>", "not JSON"),
    ],
)
def test_bad_order_books_are_malformed(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedFrame, match=reason):
        parse_orderbook(body, "KX-1", RECV)


def test_markets_page_and_bad_settlement_timer() -> None:
    page = parse_markets(_ccxt("get_markets_two_tickers.json").read_bytes())
    assert [m.price_ranges[0].step for m in page.items if m.price_ranges] == ["0.0100", "0.0010"]
    bad = (
        b'{"markets": [{"ticker": "A-B", "event_ticker": "A", "settlement_timer_seconds": "soon"}]}'
    )
    with pytest.raises(MalformedFrame, match="settlement_timer_seconds"):
        parse_markets(bad)
    with pytest.raises(MalformedFrame, match="ticker"):
        parse_markets(b'{"markets": [{"event_ticker": "A"}], "cursor": ""}')


def test_series_list_and_single() -> None:
    one = {"ticker": "KXBTCD", "fee_type": "quadratic", "fee_multiplier": 0.5, "tags": ["crypto"]}
    (series,) = parse_series(json.dumps({"series": one}))
    assert (series.ticker, str(series.fee_multiplier)) == ("KXBTCD", "0.5")
    listed = parse_series(json.dumps({"series": [one, {**one, "ticker": "KXETH"}]}))
    assert [s.ticker for s in listed] == ["KXBTCD", "KXETH"]


def test_events_page_with_nested_markets_and_single_event() -> None:
    market = {"ticker": "KXBTCD-26MAY2018-T1", "event_ticker": "KXBTCD-26MAY2018"}
    event = {
        "event_ticker": "KXBTCD-26MAY2018",
        "series_ticker": "KXBTCD",
        "title": "Bitcoin price",
        "mutually_exclusive": False,
        "markets": [market],
    }
    page = parse_events(json.dumps({"events": [event], "cursor": "next"}))
    assert (page.cursor, page.items[0].series_ticker) == ("next", "KXBTCD")
    assert page.items[0].markets == [
        Market(ticker=market["ticker"], event_ticker=market["event_ticker"])
    ]
    got, markets = parse_event(json.dumps({"event": event, "markets": [market]}))
    assert (got.event_ticker, [m.ticker for m in markets]) == (
        "KXBTCD-26MAY2018",
        [market["ticker"]],
    )


def test_trades_page_becomes_canonical_trades() -> None:
    body = {
        "trades": [
            {
                "trade_id": "t1",
                "ticker": "KX-1",
                "yes_price_dollars": "0.9900",
                "count_fp": "2.50",
                "taker_side": "yes",
                "created_time": "2025-03-01T18:44:01.25Z",
            },
            {"trade_id": "t2", "ticker": "KX-1", "yes_price": 3, "count": 4},
        ],
        "cursor": "c2",
    }
    page = parse_trades(json.dumps(body), RECV)
    assert page.cursor == "c2"
    first, second = page.items
    assert (first.price, first.size, first.side, first.trade_id) == ("0.99", "2.5", "buy", "t1")
    assert first.ts_event_ns == 1_740_854_641_250_000_000
    assert (second.price, second.size, second.side, second.ts_event_ns) == ("0.03", "4", None, RECV)
    with pytest.raises(MalformedFrame, match="RFC 3339"):
        parse_trades(
            b'{"trades":[{"trade_id":"t","ticker":"K","yes_price_dollars":"0.5",'
            b'"count_fp":"1","created_time":"noon"}]}',
            RECV,
        )
    with pytest.raises(MalformedFrame, match="yes_price_dollars"):
        parse_trades(b'{"trades":[{"trade_id":"t","ticker":"K","count_fp":"1"}]}', RECV)
    with pytest.raises(MalformedFrame, match="count_fp"):
        parse_trades(b'{"trades":[{"trade_id":"t","ticker":"K","yes_price_dollars":"0.5"}]}', RECV)


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        (
            404,
            b'{"code":"not_found","message":"market not found"}',
            VenueRejectedError,
            "not_found",
        ),
        (
            401,
            b'{"error":{"code":"authentication_error","message":"invalid signature"}}',
            VenueRejectedError,
            "authentication_error",
        ),
        (
            429,
            b'{"code":"too_many_requests","message":"slow down"}',
            VenueBusyError,
            "too_many_requests",
        ),
        (503, b"<html>maintenance</html>", VenueBusyError, "http_503"),
        (400, b"", VenueRejectedError, "http_400"),
    ],
)
def test_venue_error_carries_the_retry_decision(
    status: int, body: bytes, kind: type[Exception], code: str
) -> None:
    error = venue_error(status, body)
    assert type(error) is kind
    assert error.code == code  # type: ignore[attr-defined]


async def test_paginate_follows_the_cursor_until_empty() -> None:
    pages = {"": ("c1", ["A", "B"]), "c1": ("c2", ["C"]), "c2": ("", ["D"])}
    asked: list[str] = []

    async def fetch(cursor: str) -> bytes:
        asked.append(cursor)
        following, tickers = pages[cursor]
        markets = [{"ticker": t, "event_ticker": "E"} for t in tickers]
        return json.dumps({"markets": markets, "cursor": following}).encode()

    tickers = [market.ticker async for market in paginate(fetch, parse_markets)]
    assert tickers == ["A", "B", "C", "D"]
    assert asked == ["", "c1", "c2"]


async def test_paginate_stops_on_a_repeated_cursor() -> None:
    async def fetch(cursor: str) -> bytes:
        return b'{"markets": [], "cursor": "same"}'

    def parse(body: bytes) -> Page[Any]:
        return parse_markets(body)

    with pytest.raises(MalformedFrame, match="repeated"):
        _ = [m async for m in paginate(fetch, parse)]
