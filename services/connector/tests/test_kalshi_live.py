"""Kalshi simulator -> connector -> JetStream: discovery, YES-leg books, per-sid gaps,
error 26 splits, settlement and runtime adds."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from ssmd.bus import request
from ssmd.contracts.events import Gap, MarketStatus, Trade, decode_event
from ssmd.contracts.subjects import connector_control_subject, md_filter, md_stream

if TYPE_CHECKING:
    from conftest import Kit

    from ssmd.connector.app import Connector
    from ssmd.simulator.app import Simulator

pytestmark = pytest.mark.integration

VENUE = "kalshi"
TICKERS = ["KXBTCD-26NOV21-T100000", "KXETHD-26NOV21-T4000", "KXHIGHNY-26NOV21-B53.5"]


async def _start(
    kit: Kit, simulator_settings: dict[str, Any] | None = None, **overrides: Any
) -> tuple[Simulator, Connector]:
    simulator = await kit.simulator(
        venue=VENUE, markets=TICKERS, events_per_s=600, **(simulator_settings or {})
    )
    running = await kit.connector(
        simulator, venue=VENUE, rest_url=simulator.url + "/trade-api/v2", **overrides
    )
    return simulator, running.connector


def _levels(levels: list[list[str]]) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(price), Decimal(size)) for price, size in levels]


async def _books_match(kit: Kit, connector: Connector, simulator: Simulator) -> None:
    """Stall the venue, let the connector drain, compare every YES-leg book."""
    await kit.http(f"{simulator.url}/control/faults", post={"action": "stall", "seconds": 30})
    await asyncio.sleep(0.5)
    for ticker in connector.symbols:
        truth = await kit.http(f"{simulator.url}/control/book?product={ticker}")
        state = connector.books.get(f"{VENUE}:{ticker}")
        assert state is not None
        assert state.synced, ticker
        mine = state.as_json(None)
        assert _levels(mine["bids"]) == _levels(truth["bids"]), ticker
        assert _levels(mine["asks"]) == _levels(truth["asks"]), ticker


async def test_a_seq_jump_gaps_every_market_of_the_sid_and_get_snapshot_resyncs(kit: Kit) -> None:
    simulator, connector = await _start(kit)
    assert sorted(connector.symbols) == sorted(TICKERS)  # discovered over REST
    await kit.wait(lambda: connector.stats.events.get(Trade, 0) >= 10, "trades")
    await kit.http(
        f"{simulator.url}/control/faults",
        post={"action": "skip_seq", "product": TICKERS[0], "count": 5},
    )
    md = md_stream(kit.env, VENUE).name
    async with kit.reader(md, md_filter(kit.env, VENUE, "gap")) as gaps:
        await kit.wait(lambda: len(gaps.messages) >= len(TICKERS), "a gap per market of the sid")
    events = [decode_event(m.data) for m in gaps.messages]
    assert all(isinstance(e, Gap) and e.reason == "seq" and e.channel == "book" for e in events)
    assert sorted(e.market for e in events) == sorted(f"{VENUE}:{t}" for t in TICKERS)
    gap = events[0]
    assert isinstance(gap, Gap)
    assert gap.received_seq is not None
    assert gap.expected_seq is not None
    assert gap.received_seq - gap.expected_seq == 5
    await kit.wait(
        lambda: all(connector.books.is_synced(f"{VENUE}:{t}") for t in TICKERS), "fresh snapshots"
    )
    await _books_match(kit, connector, simulator)


async def test_error_26_splits_subscriptions_and_every_market_streams(kit: Kit) -> None:
    simulator, connector = await _start(kit, {"subscription_market_cap": 1})
    await kit.wait(
        lambda: all(connector.books.is_synced(f"{VENUE}:{t}") for t in TICKERS), "every book"
    )
    subscriptions = (await kit.http(f"{simulator.url}/control/connections"))[0]["subscriptions"]
    assert len(subscriptions) >= 3 * len(TICKERS), subscriptions
    await _books_match(kit, connector, simulator)


async def test_a_settled_market_is_published_and_dropped(kit: Kit) -> None:
    simulator, connector = await _start(kit)
    for action in ("close", "determine", "settle"):
        await kit.http(
            f"{simulator.url}/control/lifecycle",
            post={"product": TICKERS[2], "action": action, "result": "no"},
        )
    await kit.wait(lambda: TICKERS[2] not in connector.symbols, "the settled market dropped")
    md = md_stream(kit.env, VENUE).name
    async with kit.reader(md, md_filter(kit.env, VENUE, "status")) as statuses:
        await kit.wait(lambda: len(statuses.messages) >= 3, "closed, determined, settled")
    events = [decode_event(m.data) for m in statuses.messages]
    assert all(isinstance(e, MarketStatus) for e in events)
    assert [(e.status, e.result) for e in events] == [  # type: ignore[union-attr]
        ("closed", None),
        ("determined", "no"),
        ("settled", "no"),
    ]
    assert connector.stats.dropped_markets == 1


async def test_a_created_market_is_added_over_the_control_subject(kit: Kit) -> None:
    simulator, connector = await _start(kit)
    new = "KXBTCD-26NOV21-T120000"
    await kit.http(f"{simulator.url}/control/lifecycle", post={"product": new, "action": "create"})
    subject = connector_control_subject(kit.env, VENUE, 0)
    answer = msgspec.json.decode(
        await request(
            kit.bus, subject, msgspec.json.encode({"op": "add", "markets": [new]}), timeout_s=10.0
        )
    )
    assert answer["added"] == [new]
    await kit.wait(lambda: connector.books.is_synced(f"{VENUE}:{new}"), "the new market's book")
    await _books_match(kit, connector, simulator)
