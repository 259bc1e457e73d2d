"""Polymarket simulator -> connector -> JetStream: discovery, books, lifecycle, runtime adds."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from ssmd.bus import request
from ssmd.contracts.events import MarketStatus, Trade, decode_event
from ssmd.contracts.subjects import connector_control_subject, md_filter, md_stream
from ssmd.simulator.polymarket.symbols import market_ids

if TYPE_CHECKING:
    from conftest import Kit

    from ssmd.connector.app import Connector
    from ssmd.simulator.app import Simulator

pytestmark = pytest.mark.integration

VENUE = "polymarket"
SLUGS = ["btc-above-100k", "eth-above-4k", "fed-cuts-in-december"]


async def _start(kit: Kit, **overrides: Any) -> tuple[Simulator, Connector]:
    simulator = await kit.simulator(venue=VENUE, markets=SLUGS, events_per_s=600)
    running = await kit.connector(simulator, venue=VENUE, rest_url=simulator.url, **overrides)
    return simulator, running.connector


async def _differences(kit: Kit, connector: Connector, simulator: Simulator) -> list[str]:
    """Markets whose YES book differs from the simulator's (call with the venue stalled)."""
    differ = []
    for symbol in connector.symbols:
        truth = await kit.http(f"{simulator.url}/control/book?product={symbol}")
        state = connector.books.get(f"{VENUE}:{symbol}")
        mine = state.as_json(None) if state is not None and state.synced else None
        if mine is None or (mine["bids"], mine["asks"]) != (truth["bids"], truth["asks"]):
            differ.append(symbol)
    return differ


async def _books_match(kit: Kit, connector: Connector, simulator: Simulator) -> None:
    """Stall the venue, let the connector drain, compare every YES book level by level."""
    await kit.http(f"{simulator.url}/control/faults", post={"action": "stall", "seconds": 30})
    await asyncio.sleep(0.5)
    assert await _differences(kit, connector, simulator) == []


async def test_discovers_markets_and_keeps_yes_books_equal_to_the_venue(kit: Kit) -> None:
    simulator, connector = await _start(kit, book_refresh_s=1.5)
    assert sorted(connector.symbols) == sorted(market_ids(s).condition_id for s in SLUGS)
    await kit.wait(
        lambda: connector.stats.events.get(Trade, 0) >= 20, "trades on YES and NO tokens"
    )
    assert connector.stats.malformed_frames == 0
    md = md_stream(kit.env, VENUE).name
    async with kit.reader(md, md_filter(kit.env, VENUE, "trade")) as trades:
        await kit.wait(lambda: len(trades.messages) >= 20, "archived trades")
    prices = {decode_event(m.data).price for m in trades.messages}  # type: ignore[union-attr]
    assert all(0 < float(price) < 1 for price in prices)
    await _books_match(kit, connector, simulator)


async def test_lost_price_changes_are_found_by_a_refreshed_book_and_gapped(kit: Kit) -> None:
    simulator, connector = await _start(kit, book_refresh_s=1.5)
    await kit.wait(lambda: connector.stats.events.get(Trade, 0) >= 5, "data flowing")
    await kit.http(
        f"{simulator.url}/control/faults",
        post={"action": "skip_seq", "product": connector.symbols[0], "count": 40},
    )
    await asyncio.sleep(1.0)
    await kit.http(f"{simulator.url}/control/faults", post={"action": "stall", "seconds": 30})
    await asyncio.sleep(0.3)
    diverged = await _differences(kit, connector, simulator)
    found_before = sum(connector.stats.gaps.values())
    assert diverged or found_before, "the skipped price changes changed nothing: a weak fault"
    # Within one refresh period every book is fetched again and compared.
    for _ in range(40):
        if not await _differences(kit, connector, simulator):
            break
        await asyncio.sleep(0.1)
    assert await _differences(kit, connector, simulator) == []
    found = {k: v for k, v in connector.stats.gaps.items() if k.endswith("mismatch")}
    assert found, connector.stats.gaps
    assert connector.stats.book_refreshes >= 1


async def test_a_resolved_market_is_published_settled_and_dropped(kit: Kit) -> None:
    simulator, connector = await _start(kit)
    condition_id = market_ids(SLUGS[1]).condition_id
    for action in ("close", "settle"):
        await kit.http(
            f"{simulator.url}/control/lifecycle", post={"product": SLUGS[1], "action": action}
        )
    await kit.wait(lambda: condition_id not in connector.symbols, "the resolved market dropped")
    md = md_stream(kit.env, VENUE).name
    async with kit.reader(md, md_filter(kit.env, VENUE, "status")) as statuses:
        await kit.wait(lambda: len(statuses.messages) >= 1, "the MarketStatus event")
    (status,) = (decode_event(m.data) for m in statuses.messages)
    assert isinstance(status, MarketStatus)
    assert (status.market, status.status) == (f"{VENUE}:{condition_id}", "settled")
    assert connector.stats.dropped_markets == 1


async def test_a_market_created_at_the_venue_is_added_over_the_control_subject(kit: Kit) -> None:
    simulator, connector = await _start(kit)
    await kit.http(
        f"{simulator.url}/control/lifecycle",
        post={"product": "new-market-today", "action": "create"},
    )
    new = market_ids("new-market-today").condition_id
    subject = connector_control_subject(kit.env, VENUE, 0)
    body = msgspec.json.encode({"op": "add", "markets": [new, "0x" + "f" * 64]})
    answer = msgspec.json.decode(await request(kit.bus, subject, body, timeout_s=10.0))
    assert answer["added"] == [new]
    assert answer["unknown"] == ["0x" + "f" * 64]
    await kit.wait(lambda: connector.books.is_synced(f"{VENUE}:{new}"), "the new market's book")
    await _books_match(kit, connector, simulator)
