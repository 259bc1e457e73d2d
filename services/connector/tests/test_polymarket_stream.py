"""The Polymarket session logic without a socket: frames through the real parser, its
control entries into `PolymarketStream`, and what the stream asks for."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ssmd.connector.adapters.polymarket.adapter import PolymarketAdapter
from ssmd.connector.adapters.polymarket.config import PING_INTERVAL_NS, RESYNC_WAIT_NS
from ssmd.venues.polymarket.tokens import MarketTokens

pytestmark = pytest.mark.unit

A = MarketTokens("0x" + "a" * 64, "0x" + "1" * 64, "111", "222")
B = MarketTokens("0x" + "b" * 64, "0x" + "2" * 64, "333", "444")


def _setup() -> tuple[PolymarketAdapter, Any, Any]:
    adapter = PolymarketAdapter()
    adapter.index.add(A)
    adapter.index.add(B)
    stream = adapter.new_stream([A.condition_id, B.condition_id], ["market"])
    return adapter, stream, adapter.new_parser()


def _book(tokens: MarketTokens, bids: list[str], asks: list[str]) -> dict[str, Any]:
    return {
        "event_type": "book",
        "market": tokens.condition_id,
        "asset_id": tokens.yes_token_id,
        "timestamp": "1700000000000",
        "hash": "0x00",
        "bids": [{"price": p, "size": "10"} for p in bids],
        "asks": [{"price": p, "size": "10"} for p in asks],
    }


def _change(
    tokens: MarketTokens, price: str, size: str, best_bid: str, best_ask: str
) -> dict[str, Any]:
    return {
        "event_type": "price_change",
        "market": tokens.condition_id,
        "timestamp": "1700000000001",
        "price_changes": [
            {
                "asset_id": tokens.yes_token_id,
                "price": price,
                "size": size,
                "side": "BUY",
                "hash": "0x01",
                "best_bid": best_bid,
                "best_ask": best_ask,
            }
        ],
    }


def test_subscribes_both_tokens_of_every_market_with_custom_features() -> None:
    _, stream, _ = _setup()
    (frame,) = (json.loads(f) for f in stream.subscribe_requests())
    assert frame["assets_ids"] == ["111", "222", "333", "444"]
    assert frame["type"] == "market"
    assert frame["custom_feature_enabled"] is True
    assert stream.subscribed  # the venue acknowledges nothing


def test_a_book_that_disagrees_with_the_venue_is_gapped_and_resubscribed_once() -> None:
    _, stream, parse = _setup()
    assert (
        stream.on_control(
            parse(json.dumps(_book(A, ["0.40", "0.45"], ["0.55"])).encode(), 1).control
        )
        is None
    )
    consistent = _change(A, "0.46", "5", "0.46", "0.55")
    assert stream.on_control(parse(json.dumps(consistent).encode(), 2).control) is None
    stream.on_tick(10)
    lost = _change(A, "0.30", "5", "0.48", "0.55")  # the venue's best bid is a level we never saw
    actions = stream.on_control(parse(json.dumps(lost).encode(), 3).control)
    assert actions is not None
    assert [(g.market, g.channel, g.reason) for g in actions.gaps] == [
        (A.market, "book", "book_mismatch")
    ]
    requests = [json.loads(f) for f in actions.requests]
    assert [(r["operation"], r["assets_ids"]) for r in requests] == [
        ("unsubscribe", ["111", "222"]),
        ("subscribe", ["111", "222"]),
    ]
    # While the fresh book is on its way, further mismatches are not acted on...
    assert stream.on_control(parse(json.dumps(lost).encode(), 4).control) is None
    # ...but after the wait they are.
    stream.on_tick(10 + RESYNC_WAIT_NS + 1)
    assert stream.on_control(parse(json.dumps(lost).encode(), 5).control) is not None


def test_a_resolved_market_is_dropped() -> None:
    _, stream, parse = _setup()
    resolved = {
        "event_type": "market_resolved",
        "id": "1",
        "market": B.condition_id,
        "assets_ids": ["333", "444"],
        "winning_asset_id": "333",
        "winning_outcome": "Yes",
        "timestamp": "1700000000000",
    }
    result = parse(json.dumps(resolved).encode(), 1)
    assert [(e.market, e.status, e.result) for e in result.events] == [(B.market, "settled", "Yes")]
    actions = stream.on_control(result.control)
    assert actions is not None
    assert actions.drop == [B.condition_id]
    (frame,) = (json.loads(f) for f in stream.drop_markets([B.condition_id]))
    assert (frame["operation"], frame["assets_ids"]) == ("unsubscribe", ["333", "444"])


def test_pings_every_ten_seconds() -> None:
    _, stream, _ = _setup()
    first = stream.on_tick(5)
    assert first is not None
    assert first.requests == [b"PING"]
    assert stream.on_tick(5 + PING_INTERVAL_NS - 1) is None
    assert stream.on_tick(5 + PING_INTERVAL_NS) is not None
