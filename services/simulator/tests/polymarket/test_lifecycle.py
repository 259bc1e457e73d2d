"""Market lifecycle on the simulated Polymarket venue: messages, REST fields, the walk."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from ssmd.simulator.polymarket.catalog import Catalog
from ssmd.simulator.polymarket.lifecycle import parse_result, transition, walk_action
from ssmd.simulator.polymarket.markets import MarketState, binary_market_params
from ssmd.simulator.polymarket.rest import GAMMA_PATH_PREFIX
from ssmd.simulator.polymarket.symbols import market_ids
from ssmd.simulator.settings import SimulatorSettings

if TYPE_CHECKING:
    from conftest import Client, ClientFactory, Venue, VenueFactory

pytestmark = pytest.mark.integration

BTC = "will-btc-close-above-100k-on-nov-30"
FED = "fed-cuts-rates-in-december"
NEW = "will-it-snow-in-la-this-year"


async def _gamma(venue: Venue, slug: str) -> dict[str, Any]:
    status, markets = await venue.get(f"{GAMMA_PATH_PREFIX}/markets", slug=slug)
    assert status == 200
    [market] = markets
    return dict(market)


async def _clob(venue: Venue, slug: str) -> dict[str, Any]:
    status, market = await venue.get(f"/markets/{market_ids(slug).condition_id}")
    assert status == 200
    return dict(market)


async def _synced(client: Client) -> list[dict[str, Any]]:
    """Messages queued for the client until now (a PING's PONG comes after them)."""
    await client.send("PING")
    messages: list[dict[str, Any]] = []
    while (text := await client.receive_text()) != "PONG":
        assert text is not None
        decoded = msgspec.json.decode(text)
        messages.extend(decoded if isinstance(decoded, list) else [decoded])
    return messages


async def test_create_lists_a_market_and_announces_it_to_custom_connections_only(
    start_venue: VenueFactory, connect: ClientFactory
) -> None:
    venue = await start_venue(events_per_s=1000.0)
    custom, plain = await connect(venue), await connect(venue)
    await custom.subscribe([], custom=True)
    await plain.subscribe(venue.assets(BTC), initial_dump=False)
    await _synced(custom)
    result = venue.lifecycle(NEW.upper(), "create")
    ids = market_ids(NEW)
    assert (result["product"], result["slug"], result["status"]) == (ids.condition_id, NEW, "open")
    [announced] = await _synced(custom)
    assert announced["event_type"] == "new_market"
    assert (announced["market"], announced["condition_id"], announced["slug"]) == (
        ids.condition_id,
        ids.condition_id,
        NEW,
    )
    assert announced["assets_ids"] == announced["clob_token_ids"] == list(ids.token_ids)
    assert announced["outcomes"] == ["Yes", "No"]
    assert announced["active"] is True
    assert announced["id"] == (await _gamma(venue, NEW))["id"]
    assert all(m["event_type"] != "new_market" for m in await _synced(plain))
    assert (await _clob(venue, NEW))["accepting_orders"] is True
    await custom.subscribe(list(ids.token_ids), operation="subscribe")
    seen = await custom.messages_until(lambda m: m["event_type"] == "price_change", limit=500)
    assert {m["market"] for m in seen} == {ids.condition_id}
    with pytest.raises(ValueError, match="listed already"):
        venue.lifecycle(NEW, "create")
    with pytest.raises(ValueError, match="unsupported"):
        venue.lifecycle("no spaces", "create")


async def test_pause_stops_a_market_silently_and_open_resumes_it(
    start_venue: VenueFactory, connect: ClientFactory
) -> None:
    venue = await start_venue(events_per_s=3000.0)
    client = await connect(venue)
    await client.subscribe(venue.assets(BTC, FED), custom=True, initial_dump=False)
    btc = market_ids(BTC).condition_id
    venue.lifecycle(BTC, "pause")
    await _synced(client)
    await asyncio.sleep(0.2)
    markets = {m["market"] for m in await _synced(client)}
    assert btc not in markets
    assert market_ids(FED).condition_id in markets
    gamma, clob = await _gamma(venue, BTC), await _clob(venue, BTC)
    assert (gamma["acceptingOrders"], gamma["closed"], clob["accepting_orders"]) == (
        False,
        False,
        False,
    )
    with pytest.raises(ValueError, match="not open"):
        venue.lifecycle(BTC, "pause")
    venue.lifecycle(btc, "open")
    await client.messages_until(lambda m: m["market"] == btc, limit=1000)
    assert (await _gamma(venue, BTC))["acceptingOrders"] is True
    with pytest.raises(ValueError, match="not paused"):
        venue.lifecycle(BTC, "open")


async def test_close_determine_settle_show_in_rest_and_settle_is_announced(
    start_venue: VenueFactory, connect: ClientFactory
) -> None:
    venue = await start_venue(events_per_s=3000.0)
    watcher, holder = await connect(venue), await connect(venue)
    await watcher.subscribe([], custom=True)
    yes, no = venue.assets(BTC)
    await holder.subscribe([yes, no], initial_dump=False)
    btc = market_ids(BTC).condition_id
    venue.lifecycle(BTC, "close")
    gamma = await _gamma(venue, BTC)
    assert (gamma["closed"], gamma["acceptingOrders"]) == (True, False)
    assert "closedTime" in gamma
    assert (await _clob(venue, BTC))["closed"] is True
    venue.lifecycle(BTC, "determine", "no")
    gamma = await _gamma(venue, BTC)
    assert gamma["umaResolutionStatus"] == "proposed"
    assert gamma["umaResolutionStatuses"] == '["proposed"]'
    assert await _synced(watcher) == []  # pausing, closing, proposing: no message
    result = venue.lifecycle(BTC, "settle")
    assert (result["status"], result["result"]) == ("settled", "no")
    [resolved] = await _synced(watcher)
    assert resolved["event_type"] == "market_resolved"
    assert (resolved["market"], resolved["assets_ids"]) == (btc, [yes, no])
    assert (resolved["winning_asset_id"], resolved["winning_outcome"]) == (no, "No")
    clob = await _clob(venue, BTC)
    assert [(t["winner"], t["price"]) for t in clob["tokens"]] == [(False, 0), (True, 1)]
    gamma = await _gamma(venue, BTC)
    assert msgspec.json.decode(gamma["outcomePrices"]) == ["0", "1"]
    assert gamma["umaResolutionStatus"] == "resolved"
    assert (await venue.get("/book", token_id=yes))[0] == 404
    await _synced(holder)
    await asyncio.sleep(0.2)
    assert await _synced(holder) == []  # a settled market's assets get no more frames
    with pytest.raises(ValueError, match="settled"):
        venue.lifecycle(BTC, "settle")
    with pytest.raises(ValueError, match="unknown market"):
        venue.lifecycle("no-such-market", "close")
    with pytest.raises(ValueError, match="'yes' or 'no'"):
        venue.lifecycle(FED, "determine", "maybe")


async def test_the_automatic_walk_moves_markets_in_order_and_replaces_settled_ones(
    start_venue: VenueFactory,
) -> None:
    venue = await start_venue(
        events_per_s=200.0, markets=["walk-a", "walk-b"], lifecycle_interval_s=0.01
    )
    for _ in range(300):
        await asyncio.sleep(0.02)
        if len(venue.exchange.catalog) >= 3:
            break
    assert len(venue.exchange.catalog) >= 3, "no market settled and was replaced"
    moves: dict[str, list[str]] = {}
    for entry in venue.ledger.entries(kind="control", feed="lifecycle"):
        assert entry.product is not None
        assert entry.detail is not None
        moves.setdefault(entry.product, []).append(entry.detail)
    expected = ["pause: paused", "open: open", "close: closed", "determine: determined"]
    expected += ["settle: settled"]
    for product, done in moves.items():
        assert (
            done == (["create: open", *expected])[: len(done)] or done == expected[: len(done)]
        ), product
    replacement = venue.exchange.catalog.listings[2]
    assert replacement.ids.slug in ("walk-a-r1", "walk-b-r1")
    assert replacement.status in ("open", "paused")


def test_moves_that_do_not_fit_the_state_are_refused() -> None:
    params = binary_market_params(
        SimulatorSettings.load(venue="polymarket"), start_ticks=50, trade_rate_per_s=1.0
    )
    listing = Catalog().add(
        MarketState(market_ids("guard"), params, seed=1, now_ns=0), created_ms=0
    )
    with pytest.raises(ValueError, match="listed already"):
        transition(listing, "create", None, 1)
    assert walk_action(listing) == "pause"
    transition(listing, "close", None, 1)
    assert (listing.status, listing.closed_ms, walk_action(listing)) == ("closed", 1, "determine")
    with pytest.raises(ValueError, match="closed already"):
        transition(listing, "close", None, 2)
    transition(listing, "determine", "No", 2)
    assert (listing.result, walk_action(listing)) == ("no", "settle")
    with pytest.raises(ValueError, match="determined already"):
        transition(listing, "determine", None, 3)
    transition(listing, "settle", "yes", 3)
    assert (listing.status, listing.result, listing.winner, listing.closed_ms) == (
        "settled",
        "yes",
        "yes",
        1,
    )
    assert parse_result(None) is None
