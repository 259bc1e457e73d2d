"""Polymarket public REST of the simulator: CLOB markets and books, Gamma markets and events."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from ssmd.simulator.polymarket.rest import CLOB_PAGE_SIZE, GAMMA_PATH_PREFIX
from ssmd.simulator.polymarket.symbols import market_ids

if TYPE_CHECKING:
    from conftest import FixtureLoader, Venue, VenueFactory

pytestmark = pytest.mark.integration

MANY = [f"sim-market-{n}" for n in range(2500)]
GAMMA_FIXTURES = (
    "rust_test_data/gamma_market.json",
    "rust_test_data/gamma_market_closed_binary_accepting_false.json",
    "rust_test_data/gamma_market_closed_binary_accepting_true.json",
)


async def _all_clob_pages(venue: Venue) -> list[dict[str, Any]]:
    pages, cursor = [], ""
    while cursor != "LTE=":
        status, page = await venue.get("/markets", next_cursor=cursor)
        assert status == 200
        pages.append(page)
        cursor = page["next_cursor"]
        assert len(pages) < 10
    return pages


async def test_clob_cursor_pages_list_every_market_once_and_end_with_lte(
    start_venue: VenueFactory, fixture_json: FixtureLoader
) -> None:
    venue = await start_venue(events_per_s=0.0, markets=MANY)
    pages = await _all_clob_pages(venue)
    assert [page["count"] for page in pages] == [1000, 1000, 500]
    assert {page["limit"] for page in pages} == {CLOB_PAGE_SIZE}
    assert pages[0]["next_cursor"] == "MTAwMA=="  # base64("1000"), as the venue pages
    assert base64.b64decode(pages[1]["next_cursor"]) == b"2000"
    rows = [row for page in pages for row in page["data"]]
    assert [row["condition_id"] for row in rows] == [market_ids(slug).condition_id for slug in MANY]
    real = fixture_json("py_http_responses/markets.json")
    assert real["next_cursor"] == base64.b64encode(str(real["count"]).encode()).decode()
    real_row = real["data"][0]
    row = rows[0]
    assert set(row) == set(real_row)
    assert set(row["tokens"][0]) == set(real_row["tokens"][0])
    assert [token["outcome"] for token in row["tokens"]] == ["Yes", "No"]
    assert [token["token_id"] for token in row["tokens"]] == list(market_ids(MANY[0]).token_ids)
    assert isinstance(row["minimum_tick_size"], float)  # a JSON number, as on the venue
    assert isinstance(row["minimum_order_size"], int)
    assert (row["active"], row["closed"], row["accepting_orders"]) == (True, False, True)
    prices = [Decimal(str(token["price"])) for token in row["tokens"]]
    assert sum(prices) == 1
    status, past_end = await venue.get("/markets", next_cursor="LTE=")
    assert (status, past_end["data"], past_end["next_cursor"]) == (200, [], "LTE=")
    status, bad = await venue.get("/markets", next_cursor="%%%")
    assert status == 400
    assert "error" in bad


async def test_clob_market_by_condition_id_and_404_for_unknown(start_venue: VenueFactory) -> None:
    venue = await start_venue(events_per_s=0.0)
    listing = venue.exchange.catalog.listings[2]
    status, market = await venue.get(f"/markets/{listing.ids.condition_id}")
    assert status == 200
    assert market["condition_id"] == listing.ids.condition_id
    assert market["question_id"] == listing.ids.question_id
    assert market["market_slug"] == listing.ids.slug
    status, missing = await venue.get("/markets/0x" + "0" * 64)
    assert status == 404
    assert set(missing) == {"error"}


async def test_book_endpoint_prints_the_venue_book_with_the_streams_hash(
    start_venue: VenueFactory, fixture_json: FixtureLoader
) -> None:
    venue = await start_venue(events_per_s=0.0)
    yes, no = venue.assets("fed-cuts-rates-in-december")
    for token in (yes, no):
        status, book = await venue.get("/book", token_id=token)
        assert status == 200
        real = fixture_json("rust_test_data/clob_book_response.json")
        assert set(real) <= set(book)
        assert set(book) - set(real) == {
            "min_order_size",
            "tick_size",
            "neg_risk",
            "last_trade_price",
        }
        state = venue.exchange.book_state(token)
        assert state is not None
        assert book["hash"] == state["hash"]
        assert [[lv["price"], lv["size"]] for lv in reversed(book["bids"])] == state["bids"]
        assert [[lv["price"], lv["size"]] for lv in reversed(book["asks"])] == state["asks"]
        assert (book["tick_size"], book["min_order_size"], book["neg_risk"]) == ("0.01", "5", False)
    assert (await venue.get("/book"))[0] == 400
    assert (await venue.get("/book", token_id="42"))[0] == 404


def _gamma_keys(fixture_json: FixtureLoader) -> set[str]:
    keys: set[str] = set()
    for name in GAMMA_FIXTURES:
        keys |= set(fixture_json(name))
    return keys


async def test_gamma_markets_carry_json_encoded_string_fields(
    start_venue: VenueFactory, fixture_json: FixtureLoader
) -> None:
    venue = await start_venue(events_per_s=0.0)
    status, markets = await venue.get(f"{GAMMA_PATH_PREFIX}/markets")
    assert status == 200
    assert len(markets) == 6
    real = fixture_json("rust_test_data/gamma_market.json")
    for market, listing in zip(markets, venue.exchange.catalog.listings, strict=True):
        assert set(market) <= _gamma_keys(fixture_json)
        for name in ("outcomes", "outcomePrices", "clobTokenIds"):
            assert isinstance(market[name], str)
            assert isinstance(msgspec.json.decode(real[name]), list)
        assert msgspec.json.decode(market["outcomes"]) == ["Yes", "No"]
        assert msgspec.json.decode(market["clobTokenIds"]) == list(listing.ids.token_ids)
        assert sum(Decimal(p) for p in msgspec.json.decode(market["outcomePrices"])) == 1
        assert market["conditionId"] == listing.ids.condition_id
        assert market["questionID"] == listing.ids.question_id
        assert market["slug"] == listing.ids.slug
        assert (market["active"], market["closed"], market["acceptingOrders"]) == (
            True,
            False,
            True,
        )
        assert (market["enableOrderBook"], market["negRisk"]) == (True, False)
        assert market["orderPriceMinTickSize"] == 0.01
        assert market["orderMinSize"] == 5
        assert market["umaResolutionStatuses"] == "[]"
        assert [event["id"] for event in market["events"]] == [listing.event_id]
    one = markets[3]
    status, by_id = await venue.get(f"{GAMMA_PATH_PREFIX}/markets/{one['id']}")
    assert (status, by_id) == (200, one)
    assert (await venue.get(f"{GAMMA_PATH_PREFIX}/markets/1"))[0] == 404


async def test_gamma_filters_and_offset_pages_scale_to_thousands_of_markets(
    start_venue: VenueFactory,
) -> None:
    venue = await start_venue(events_per_s=0.0, markets=MANY)
    seen: list[str] = []
    for offset in range(0, 2500, 1000):
        status, page = await venue.get(
            f"{GAMMA_PATH_PREFIX}/markets", limit="1000", offset=str(offset)
        )
        assert status == 200
        seen.extend(market["slug"] for market in page)
    assert seen == MANY
    for slug in MANY[10:13]:
        venue.lifecycle(slug, "close")
    closed = (await venue.get(f"{GAMMA_PATH_PREFIX}/markets", closed="true"))[1]
    assert [market["slug"] for market in closed] == MANY[10:13]
    assert all(market["closed"] and not market["acceptingOrders"] for market in closed)
    still_open = (
        await venue.get(f"{GAMMA_PATH_PREFIX}/markets", closed="false", offset="9", limit="3")
    )[1]
    assert [market["slug"] for market in still_open] == [MANY[9], MANY[13], MANY[14]]
    ids = [market_ids(slug).condition_id for slug in (MANY[7], MANY[2])]
    status, named = await venue.get(f"{GAMMA_PATH_PREFIX}/markets", condition_ids=",".join(ids))
    assert [market["slug"] for market in named] == [MANY[2], MANY[7]]
    named = (await venue.get(f"{GAMMA_PATH_PREFIX}/markets", slug=MANY[5]))[1]
    assert [market["conditionId"] for market in named] == [market_ids(MANY[5]).condition_id]
    both = ",".join(market_ids(slug).condition_id for slug in (MANY[10], MANY[20]))
    named = (await venue.get(f"{GAMMA_PATH_PREFIX}/markets", condition_ids=both, closed="true"))[1]
    assert [market["slug"] for market in named] == [MANY[10]]
    gamma_id = venue.exchange.catalog.listings[3].gamma_id
    named = (await venue.get(f"{GAMMA_PATH_PREFIX}/markets", id=gamma_id, limit=""))[1]
    assert [market["slug"] for market in named] == [MANY[3]]
    assert (await venue.get(f"{GAMMA_PATH_PREFIX}/markets", active="false"))[1] == []
    assert (await venue.get(f"{GAMMA_PATH_PREFIX}/markets", limit="x"))[0] == 400
    assert (await venue.get(f"{GAMMA_PATH_PREFIX}/markets", closed="maybe"))[0] == 400


async def test_gamma_events_hold_their_market(
    start_venue: VenueFactory, fixture_json: FixtureLoader
) -> None:
    venue = await start_venue(events_per_s=0.0)
    status, events = await venue.get(f"{GAMMA_PATH_PREFIX}/events", limit="2", offset="1")
    assert status == 200
    listings = venue.exchange.catalog.listings[1:3]
    real = fixture_json("rust_test_data/gamma_event.json")[0]
    for event, listing in zip(events, listings, strict=True):
        assert set(event) <= set(real)
        assert [market["conditionId"] for market in event["markets"]] == [listing.ids.condition_id]
        assert "events" not in event["markets"][0]
        assert event["slug"] == listing.ids.slug
    status, one = await venue.get(f"{GAMMA_PATH_PREFIX}/events/{events[0]['id']}")
    assert (status, one) == (200, events[0])
    assert (await venue.get(f"{GAMMA_PATH_PREFIX}/events/5"))[0] == 404
    assert (await venue.get(f"{GAMMA_PATH_PREFIX}/events", offset="-1"))[0] == 400
