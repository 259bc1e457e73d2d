"""Several sockets per shard, and markets added and dropped at runtime over the control
subject (``ctl.<env>.connector.<venue>.<shard>``), against the Kraken Futures simulator."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import msgspec
import pytest

from ssmd.bus import request
from ssmd.contracts.shard import shard_of
from ssmd.contracts.subjects import connector_control_subject

if TYPE_CHECKING:
    from conftest import Kit

pytestmark = pytest.mark.integration

VENUE = "kraken_futures"
ALL = ["PF_XBTUSD", "PF_ETHUSD", "PF_SOLUSD", "FF_XBTUSD_270326", "PF_ADAUSD"]


async def _ask(kit: Kit, shard: int, body: object) -> dict[str, object]:
    subject = connector_control_subject(kit.env, VENUE, shard)
    reply = await request(kit.bus, subject, msgspec.json.encode(body), timeout_s=10.0)
    answer: dict[str, object] = msgspec.json.decode(reply)
    return answer


def _subscribed_products(connections: list[dict[str, object]]) -> set[str]:
    products: set[str] = set()
    for connection in connections:
        subscriptions = connection["subscriptions"]
        assert isinstance(subscriptions, list)
        products |= {entry.split(":", 1)[1] for entry in subscriptions if entry.startswith("book:")}
    return products


async def test_markets_are_split_over_sockets_and_added_and_dropped_at_runtime(kit: Kit) -> None:
    simulator = await kit.simulator(markets=ALL, events_per_s=500)
    running = await kit.connector(
        simulator, markets=ALL[:3], markets_per_socket=2, channels=["book", "trade"]
    )
    connector = running.connector
    assert [len(runner.symbols) for runner in connector.runners] == [2, 1]
    assert len(await kit.http(f"{simulator.url}/control/connections")) == 2

    added = await _ask(
        kit, 0, {"op": "add", "markets": ["ff_xbtusd_270326", "PF_ADAUSD", "PF_XBTUSD"]}
    )
    assert added == {
        "op": "add",
        "added": ["FF_XBTUSD_270326", "PF_ADAUSD"],
        "already": ["PF_XBTUSD"],
        "other_shard": [],
        "unknown": [],
    }
    # The socket with room takes one, a new third socket the other.
    assert [len(runner.symbols) for runner in connector.runners] == [2, 2, 1]
    await kit.wait(lambda: connector.subscribed, "subscriptions of the added markets")

    async def subscribed_now() -> set[str]:
        return _subscribed_products(await kit.http(f"{simulator.url}/control/connections"))

    assert await subscribed_now() == set(ALL)
    await kit.wait(
        lambda: all(
            (state := connector.books.get(f"{VENUE}:{symbol}")) is not None and state.synced
            for symbol in ALL
        ),
        "books of every market",
    )

    dropped = await _ask(kit, 0, {"op": "drop", "markets": ["PF_ETHUSD", "PF_NOPEUSD"]})
    assert dropped == {"op": "drop", "dropped": ["PF_ETHUSD"], "not_served": ["PF_NOPEUSD"]}
    assert "PF_ETHUSD" not in connector.symbols
    assert connector.books.get(f"{VENUE}:PF_ETHUSD") is None
    for _ in range(100):
        if await subscribed_now() == set(ALL) - {"PF_ETHUSD"}:
            break
        await asyncio.sleep(0.05)
    assert await subscribed_now() == set(ALL) - {"PF_ETHUSD"}

    bad = await _ask(kit, 0, {"op": "remove", "markets": []})
    assert "bad request" in str(bad["error"])


async def test_a_shard_takes_only_its_own_markets(kit: Kit) -> None:
    symbols = [*ALL, "PI_XBTUSD", "PF_LTCUSD", "PF_DOTUSD"]
    simulator = await kit.simulator(markets=symbols, events_per_s=100)
    mine = [symbol for symbol in symbols if shard_of(f"{VENUE}:{symbol}", 2) == 1]
    others = [symbol for symbol in symbols if symbol not in mine]
    assert len(mine) >= 2, "the fixture needs two markets on shard 1"
    assert others, "the fixture needs markets on shard 0"
    running = await kit.connector(simulator, markets=[mine[0]], shards=2, shard=1)
    answer = await _ask(kit, 1, {"op": "add", "markets": symbols})
    assert answer["added"] == mine[1:]
    assert answer["already"] == [mine[0]]
    assert answer["other_shard"] == others
    assert sorted(running.connector.symbols) == sorted(mine)
