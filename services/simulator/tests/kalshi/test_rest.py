"""Public REST market data of the simulated Kalshi: shapes, filters, pagination, errors."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from ssmd.simulator.faults import FaultRequest
from ssmd.simulator.venue import LifecycleRequest
from ssmd.testing.fixtures import venue_fixture

if TYPE_CHECKING:
    from conftest import KalshiVenue, VenueFactory

pytestmark = pytest.mark.integration

FED = "KXFED-26DEC-T4.00"
MANY = [
    f"KXS{series}-26NOV{day:02d}-T{strike}"
    for series in range(5)
    for day in range(1, 26)
    for strike in range(20)
]  # 2,500 markets, 5 series, 125 events


async def _all_pages(venue: KalshiVenue, path: str, key: str, **params: Any) -> list[Any]:
    items: list[Any] = []
    cursor = ""
    for _ in range(1000):
        status, body = await venue.get(path, **params, **({"cursor": cursor} if cursor else {}))
        assert status == 200, body
        items.extend(body[key])
        cursor = body["cursor"]
        if not cursor:
            return items
    raise AssertionError("pagination did not end")


async def test_pagination_lists_each_of_2500_markets_exactly_once(kalshi: VenueFactory) -> None:
    venue = await kalshi(events_per_s=0.0, markets=MANY)
    for limit in (1000, 100, 333):
        markets = await _all_pages(venue, "/markets", "markets", limit=limit)
        assert [m["ticker"] for m in markets] == MANY
    _, first = await venue.get("/markets")
    assert len(first["markets"]) == 100, "the default limit"
    series = await _all_pages(venue, "/markets", "markets", series_ticker="KXS3", limit=200)
    assert [m["ticker"] for m in series] == [t for t in MANY if t.startswith("KXS3-")]
    _, event = await venue.get("/markets", event_ticker="KXS1-26NOV07")
    assert [m["ticker"] for m in event["markets"]] == [
        t for t in MANY if t.startswith("KXS1-26NOV07-")
    ]
    _, chosen = await venue.get("/markets", tickers=f"{MANY[7]},KXNOPE-1-2,{MANY[3]}")
    assert [m["ticker"] for m in chosen["markets"]] == [MANY[7], MANY[3]]
    events = await _all_pages(venue, "/events", "events", limit=50)
    assert len({e["event_ticker"] for e in events}) == len(events) == 125


async def test_status_filter_follows_the_lifecycle(kalshi: VenueFactory) -> None:
    venue = await kalshi(events_per_s=0.0)
    venue.exchange.lifecycle(LifecycleRequest(product=FED, action="pause"))
    _, paused = await venue.get("/markets", status="paused")
    assert [m["ticker"] for m in paused["markets"]] == [FED]
    _, open_markets = await venue.get("/markets", status="open")
    assert len(open_markets["markets"]) == 5
    assert FED not in {m["ticker"] for m in open_markets["markets"]}
    _, unopened = await venue.get("/markets", status="unopened")
    assert unopened == {"cursor": "", "markets": []}
    _, events = await venue.get("/events", status="open")
    assert "KXFED-26DEC" in {e["event_ticker"] for e in events["events"]}, "paused is open"
    venue.exchange.lifecycle(LifecycleRequest(product=FED, action="close"))
    _, closed = await venue.get("/events", status="closed")
    assert [e["event_ticker"] for e in closed["events"]] == ["KXFED-26DEC"]
    _, closed_markets = await venue.get("/markets", status="closed")
    assert [m["ticker"] for m in closed_markets["markets"]] == [FED]
    venue.exchange.lifecycle(LifecycleRequest(product=FED, action="determine"))
    venue.exchange.lifecycle(LifecycleRequest(product=FED, action="settle"))
    _, settled = await venue.get("/events", status="settled")
    assert [e["event_ticker"] for e in settled["events"]] == ["KXFED-26DEC"]
    _, settled_markets = await venue.get("/markets", status="settled", series_ticker="KXFED")
    assert [m["ticker"] for m in settled_markets["markets"]] == [FED]
    assert settled_markets["markets"][0]["result"] == "yes"
    _, none = await venue.get("/markets", series_ticker="KXFED", event_ticker="KXBTCD-26NOV2117")
    assert none["markets"] == []


async def test_a_market_has_the_fields_of_the_real_body_and_a_consistent_quote(
    kalshi: VenueFactory,
) -> None:
    venue = await kalshi(events_per_s=0.0)
    real = msgspec.json.decode(
        venue_fixture("kalshi/ccxt_static_response/get_market_KXELONMARS-99.json").read_bytes()
    )["market"]
    status, body = await venue.get(f"/markets/{FED}")
    assert status == 200
    market = body["market"]
    assert set(real) <= set(market)
    assert list(market) == sorted(market), "alphabetical, as the venue sends it"
    for key, value in real.items():
        assert type(market[key]) is type(value), key
    book = venue.exchange.book_state(FED)
    assert book is not None
    bids, asks = book["bids"], book["asks"]
    assert isinstance(bids, list)
    assert isinstance(asks, list)
    assert market["yes_bid_dollars"] == bids[0][0]
    assert market["yes_ask_dollars"] == asks[0][0]
    assert Decimal(market["no_ask_dollars"]) == 1 - Decimal(market["yes_bid_dollars"])
    assert Decimal(market["no_bid_dollars"]) == 1 - Decimal(market["yes_ask_dollars"])
    assert (market["market_type"], market["status"], market["strike_type"]) == (
        "binary",
        "active",
        "greater",
    )
    assert market["event_ticker"] == "KXFED-26DEC"


async def test_orderbook_is_bids_only_ascending_as_the_venue_book(kalshi: VenueFactory) -> None:
    venue = await kalshi(events_per_s=0.0, book_depth_levels=10)
    status, body = await venue.get(f"/markets/{FED}/orderbook")
    assert status == 200
    book = body["orderbook_fp"]
    assert list(book) == ["no_dollars", "yes_dollars"]
    truth = venue.exchange.book_state(FED)
    assert truth is not None
    assert book["yes_dollars"] == truth["yes_dollars_fp"]
    assert book["no_dollars"] == truth["no_dollars_fp"]
    for side in book.values():
        prices = [Decimal(p) for p, _ in side]
        assert prices == sorted(prices)
        assert len(side) == 10
    _, top = await venue.get(f"/markets/{FED}/orderbook", depth=3)
    assert top["orderbook_fp"]["yes_dollars"] == book["yes_dollars"][-3:]


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/markets/KXNOPE-26NOV21-T1", {}, 404, "not_found"),
        ("/markets/KXNOPE-26NOV21-T1/orderbook", {}, 404, "not_found"),
        ("/events/KXNOPE-26NOV21", {}, 404, "not_found"),
        ("/series/KXNOPE", {}, 404, "not_found"),
        ("/markets", {"limit": 0}, 400, "bad_request"),
        ("/markets", {"limit": 1001}, 400, "bad_request"),
        ("/markets", {"limit": "many"}, 400, "bad_request"),
        ("/markets", {"cursor": "not-a-cursor"}, 400, "bad_request"),
        ("/markets", {"status": "sleeping"}, 400, "bad_request"),
        ("/events", {"limit": 201}, 400, "bad_request"),
        ("/events", {"status": "paused"}, 400, "bad_request"),
        ("/markets/trades", {"min_ts": "yesterday"}, 400, "bad_request"),
        (f"/markets/{FED}/orderbook", {"depth": -1}, 400, "bad_request"),
    ],
)
async def test_unknown_and_bad_requests_get_error_responses(
    kalshi: VenueFactory, path: str, params: dict[str, Any], status: int, code: str
) -> None:
    venue = await kalshi(events_per_s=0.0)
    answer_status, body = await venue.get(path, **params)
    assert answer_status == status
    assert body["code"] == code
    assert body["message"]
    assert set(body) == {"code", "message", "details", "service"}


async def test_events_and_series_describe_the_listed_markets(kalshi: VenueFactory) -> None:
    venue = await kalshi(events_per_s=0.0)
    _, events = await venue.get("/events", with_nested_markets="true")
    listed = {e["event_ticker"]: e for e in events["events"]}
    assert set(listed) == {
        "KXHIGHNY-26NOV21",
        "KXBTCD-26NOV2117",
        "KXFED-26DEC",
        "KXINXD-26NOV21",
    }
    nyc = listed["KXHIGHNY-26NOV21"]
    assert [m["ticker"] for m in nyc["markets"]] == [
        "KXHIGHNY-26NOV21-B53.5",
        "KXHIGHNY-26NOV21-B55.5",
    ]
    assert nyc["mutually_exclusive"] is True
    assert nyc["series_ticker"] == "KXHIGHNY"
    _, flat = await venue.get("/events", series_ticker="KXFED")
    assert [e["event_ticker"] for e in flat["events"]] == ["KXFED-26DEC"]
    assert "markets" not in flat["events"][0]
    status, one = await venue.get("/events/KXBTCD-26NOV2117")
    assert status == 200
    assert one["event"]["title"].startswith("Bitcoin price")
    assert len(one["markets"]) == 2
    _, series = await venue.get("/series")
    assert {s["ticker"] for s in series["series"]} == {"KXHIGHNY", "KXBTCD", "KXFED", "KXINXD"}
    status, fed = await venue.get("/series/KXFED")
    assert status == 200
    assert fed["series"]["category"] == "Economics"
    assert fed["series"]["settlement_sources"][0]["name"] == "Federal Reserve"


async def test_recent_trades_page_newest_first(kalshi: VenueFactory) -> None:
    venue = await kalshi(events_per_s=5000.0, trade_share=0.5)
    client = await venue.connect()
    await client.command("subscribe", {"channels": ["trade"]})
    for _ in range(300):
        await client.receive_until(lambda m: m["type"] == "trade")
    await venue.exchange.apply_fault(
        FaultRequest(action="stall", seconds=5.0)
    )  # no new trades while we page
    expected = [t.trade_id for t in reversed(venue.exchange.recent_trades)]
    trades = await _all_pages(venue, "/markets/trades", "trades", limit=70)
    assert [t["trade_id"] for t in trades] == expected
    assert set(trades[0]) == {
        "trade_id",
        "ticker",
        "count_fp",
        "yes_price_dollars",
        "no_price_dollars",
        "taker_side",
        "created_time",
    }
    _, fed = await venue.get("/markets/trades", ticker=FED, limit=1000)
    assert fed["trades"]
    assert {t["ticker"] for t in fed["trades"]} == {FED}
    _, none = await venue.get("/markets/trades", max_ts=0)
    assert none == {"cursor": "", "trades": []}
