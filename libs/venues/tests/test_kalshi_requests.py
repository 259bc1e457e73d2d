"""KalshiCommands builds the spec's command frames, with ids 1, 2, 3... per connection."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ssmd.testing.fixtures import venue_fixture
from ssmd.venues.errors import MalformedFrame
from ssmd.venues.kalshi import config
from ssmd.venues.kalshi.requests import KalshiCommands, SubscribeCmd, decode_command

pytestmark = pytest.mark.unit


def _spec_payload(example: str) -> dict[str, Any]:
    path = venue_fixture("kalshi/docs_asyncapi_examples_2026-04.jsonl")
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        if entry["example"] == example:
            payload: dict[str, Any] = entry["payload"]
            return payload
    raise AssertionError(f"no spec example {example}")


def test_ids_start_at_1_and_increase() -> None:
    commands = KalshiCommands()
    ids = [
        commands.subscribe([config.TICKER])[0],
        commands.unsubscribe([1])[0],
        commands.list_subscriptions()[0],
        commands.get_snapshot(1, ["A-B-C"])[0],
    ]
    assert ids == [1, 2, 3, 4]
    assert commands.next_id == 5


@pytest.mark.parametrize(
    ("example", "build"),
    [
        (
            "subscribeMultipleChannels",
            lambda c: c.subscribe(
                ["orderbook_delta", "ticker"], ["FED-23DEC-T3.00", "CORIVER-2024-T1030"]
            ),
        ),
        (
            "subscribeTickerWithSnapshot",
            lambda c: c.subscribe(["ticker"], ["FED-23DEC-T3.00"], send_initial_snapshot=True),
        ),
        ("subscribeMarketLifecycle", lambda c: c.subscribe([config.LIFECYCLE])),
        ("unsubscribeMultiple", lambda c: c.unsubscribe([1, 2])),
        ("listSubscriptions", lambda c: c.list_subscriptions()),
        (
            "addMarkets",
            lambda c: c.update_subscription(456, "add_markets", ["NEW-MARKET-1", "NEW-MARKET-2"]),
        ),
        (
            "deleteMarkets",
            lambda c: c.update_subscription(
                456, config.DELETE_MARKETS, ["MARKET-TO-REMOVE-1", "MARKET-TO-REMOVE-2"]
            ),
        ),
        ("getSnapshot", lambda c: c.get_snapshot(456, ["MARKET-1", "MARKET-2"])),
    ],
)
def test_frames_are_the_spec_examples(example: str, build: Any) -> None:
    payload = _spec_payload(example)
    command_id, frame = build(KalshiCommands(first_id=payload["id"]))
    assert command_id == payload["id"]
    assert json.loads(frame) == payload
    assert decode_command(frame).id == payload["id"]


def test_bad_arguments_are_refused_before_sending() -> None:
    commands = KalshiCommands()
    with pytest.raises(ValueError, match="channels"):
        commands.subscribe([])
    with pytest.raises(ValueError, match="market_tickers"):
        commands.subscribe([config.TICKER], [])
    with pytest.raises(ValueError, match="sids"):
        commands.unsubscribe([])
    with pytest.raises(ValueError, match="action"):
        commands.update_subscription(1, "replace_markets", ["A-B-C"])
    with pytest.raises(ValueError, match="first_id"):
        KalshiCommands(first_id=0)
    assert commands.next_id == 1  # nothing was spent on refused commands


def test_decode_command_reads_params_and_refuses_garbage() -> None:
    command = decode_command('{"id":9,"cmd":"subscribe","params":{"channels":["trade"]}}')
    assert isinstance(command, SubscribeCmd)
    assert command.params.channels == ["trade"]
    with pytest.raises(MalformedFrame, match="channels"):
        decode_command(b'{"id":9,"cmd":"subscribe","params":{}}')
    with pytest.raises(MalformedFrame, match="not a Kalshi command"):
        decode_command(b'{"id":9,"cmd":"dance"}')
    with pytest.raises(MalformedFrame, match="not JSON"):
        decode_command(b"{")
