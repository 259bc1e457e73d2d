"""Every error reply of the simulated Kalshi session, provoked and checked (K-ASYNC-04 codes)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from ssmd.venues.kalshi.config import ERROR_CODES

if TYPE_CHECKING:
    from conftest import Client, KalshiVenue, VenueFactory

pytestmark = pytest.mark.integration

FED = "KXFED-26DEC-T4.00"
NYC = "KXHIGHNY-26NOV21-B53.5"
BTC = "KXBTCD-26NOV2117-T99999.99"
UNKNOWN = "KXNOPE-26NOV21-T1"


async def _connect_with_trade_sub(venue: KalshiVenue) -> Client:
    """A client whose sid 1 is a trade subscription of FED (answers drained)."""
    client = await venue.connect()
    await client.command("subscribe", {"channels": ["trade"], "market_ticker": FED})
    assert (await client.receive_json())["type"] == "subscribed"
    return client


@pytest.mark.parametrize(
    ("command", "code", "extra"),
    [
        ("not json", 1, {}),
        ("[1, 2]", 1, {}),
        ('{"id": "seven", "cmd": "list_subscriptions"}', 1, {}),
        ({"id": 9, "params": {}}, 1, {}),
        ({"id": 9, "cmd": "subscribe"}, 2, {}),
        ({"id": 9, "cmd": "subscribe", "params": {}}, 3, {}),
        ({"id": 9, "cmd": "subscribe", "params": {"channels": []}}, 3, {}),
        ({"id": 9, "cmd": "unsubscribe", "params": {}}, 4, {}),
        ({"id": 9, "cmd": "update_subscription", "params": {"action": "add_markets"}}, 4, {}),
        ({"id": 9, "cmd": "dance", "params": {}}, 5, {}),
        ({"id": 9, "cmd": "unsubscribe", "params": {"sids": [99]}}, 7, {}),
        ({"id": 9, "cmd": "update_subscription", "params": {"sid": 99, "action": "x"}}, 7, {}),
        ({"id": 9, "cmd": "subscribe", "params": {"channels": ["candles"]}}, 8, {}),
        ({"id": 9, "cmd": "subscribe", "params": {"channels": ["fill"]}}, 9, {}),
        (
            {
                "id": 9,
                "cmd": "subscribe",
                "params": {"channels": ["trade"], "market_ticker": UNKNOWN},
            },
            11,
            {"market_ticker": UNKNOWN},
        ),
        (
            {
                "id": 9,
                "cmd": "subscribe",
                "params": {"channels": ["ticker"], "market_tickers": [FED, UNKNOWN, "X-Y-Z"]},
            },
            11,
            {"market_tickers": [UNKNOWN, "X-Y-Z"]},
        ),
        ({"id": 9, "cmd": "subscribe", "params": [1]}, 11, {}),
        ({"id": 9, "cmd": "subscribe", "params": {"channels": "trade"}}, 11, {}),
        (
            {"id": 9, "cmd": "subscribe", "params": {"channels": ["trade"], "market_ticker": 5}},
            11,
            {},
        ),
        (
            {"id": 9, "cmd": "subscribe", "params": {"channels": ["trade"], "market_tickers": FED}},
            11,
            {},
        ),
        ({"id": 9, "cmd": "unsubscribe", "params": {"sids": ["1"]}}, 11, {}),
        ({"id": 9, "cmd": "update_subscription", "params": {"sid": "1"}}, 11, {}),
        ({"id": 9, "cmd": "update_subscription", "params": {"sids": [True]}}, 11, {}),
        ({"id": 9, "cmd": "update_subscription", "params": {"sids": [1, 2]}}, 12, {}),
        ({"id": 9, "cmd": "update_subscription", "params": {"sid": 2, "sids": [1]}}, 12, {}),
        (
            {"id": 9, "cmd": "update_subscription", "params": {"sid": 1, "action": "dance"}},
            13,
            {"sid": 1},
        ),
        (
            {"id": 9, "cmd": "update_subscription", "params": {"sid": 1, "action": "get_snapshot"}},
            13,
            {"sid": 1},
        ),
        ({"id": 9, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"]}}, 14, {}),
        (
            {"id": 9, "cmd": "update_subscription", "params": {"sid": 1, "action": "add_markets"}},
            14,
            {"sid": 1},
        ),
        ({"id": 9, "cmd": "update_subscription", "params": {"sid": 1}}, 15, {"sid": 1}),
    ],
)
async def test_bad_commands_get_their_error_code(
    kalshi: VenueFactory, command: dict[str, Any] | str, code: int, extra: dict[str, Any]
) -> None:
    venue = await kalshi(events_per_s=0.0)
    client = await _connect_with_trade_sub(venue)
    await client.send(command)
    reply = await client.receive_json()
    command_id = command.get("id", 0) if isinstance(command, dict) else 0
    assert reply["id"] == command_id
    assert reply["type"] == "error"
    assert reply["msg"]["code"] == code
    assert reply["msg"]["msg"].startswith(ERROR_CODES[code].split()[0])
    for key, value in extra.items():
        where = reply if key == "sid" else reply["msg"]
        assert where[key] == value
    if "sid" not in extra:
        assert "sid" not in reply
    (entry,) = venue.ledger.entries(kind="control", feed="error")
    assert entry.detail == str(code)
    await client.command("list_subscriptions")
    listed = await client.receive_until(lambda m: m["type"] == "ok")
    assert listed["msg"] == [{"channel": "trade", "sid": 1}], "nothing was subscribed"


async def test_market_cap_refuses_a_subscription_a_split_one_succeeds(kalshi: VenueFactory) -> None:
    tickers = [f"KXSIM-26NOV21-T{n}" for n in range(10)]
    venue = await kalshi(events_per_s=0.0, markets=tickers, subscription_market_cap=6)
    client = await venue.connect()
    await client.command(
        "subscribe", {"channels": ["orderbook_delta", "trade"], "market_tickers": tickers}
    )
    refused = await client.receive_json()
    assert (refused["type"], refused["msg"]["code"]) == ("error", 26)
    assert venue.exchange.connection_states()[0]["subscriptions"] == []
    await client.command(
        "subscribe", {"channels": ["orderbook_delta"], "market_tickers": tickers[:5]}
    )
    await client.command(
        "subscribe", {"channels": ["orderbook_delta"], "market_tickers": tickers[5:]}
    )
    frames = await client.drain()
    assert [m["msg"]["sid"] for m in frames if m["type"] == "subscribed"] == [1, 2]
    assert sum(m["type"] == "orderbook_snapshot" for m in frames) == 10
    await client.command(
        "update_subscription", {"sid": 1, "action": "add_markets", "market_tickers": tickers[5:7]}
    )
    too_many = await client.receive_json()
    assert (too_many["msg"]["code"], too_many["sid"]) == (26, 1)
    states: Any = venue.exchange.connection_states()
    assert states[0]["subscriptions"][0]["market_tickers"] == tickers[:5]


async def test_commands_beyond_the_rate_get_27(kalshi: VenueFactory) -> None:
    venue = await kalshi(events_per_s=0.0, commands_per_s=3.0)
    client = await venue.connect()
    for _ in range(5):
        await client.command("list_subscriptions")
    replies = [await client.receive_json() for _ in range(5)]
    assert [r["type"] for r in replies] == ["ok", "ok", "ok", "error", "error"]
    assert [r["msg"]["code"] for r in replies[3:]] == [27, 27]
    assert [r["id"] for r in replies] == [1, 2, 3, 4, 5]


async def test_a_full_venue_refuses_more_connections(kalshi: VenueFactory) -> None:
    venue = await kalshi(events_per_s=0.0, max_connections=1)
    await venue.connect()
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await venue.connect()
    assert caught.value.status == 503


async def test_unsubscribe_serves_known_sids_and_refuses_unknown_ones(
    kalshi: VenueFactory,
) -> None:
    venue = await kalshi(events_per_s=0.0)
    client = await _connect_with_trade_sub(venue)
    await client.command("unsubscribe", {"sids": [1, 42]})
    replies = [await client.receive_json(), await client.receive_json()]
    assert replies[0] == {"id": 2, "sid": 1, "seq": 1, "type": "unsubscribed"}
    assert (replies[1]["type"], replies[1]["msg"]["code"]) == ("error", 7)


async def test_delete_markets_on_an_all_market_subscription_is_unsupported(
    kalshi: VenueFactory,
) -> None:
    venue = await kalshi(events_per_s=0.0)
    client = await venue.connect()
    await client.command("subscribe", {"channels": ["ticker"]})
    await client.receive_json()
    await client.command(
        "update_subscription", {"sid": 1, "action": "delete_markets", "market_ticker": NYC}
    )
    reply = await client.receive_json()
    assert (reply["msg"]["code"], reply["sid"]) == (13, 1)
    await client.command(
        "update_subscription", {"sids": [1], "action": "get_snapshot", "market_ticker": BTC}
    )
    assert (await client.receive_json())["msg"]["code"] == 13
