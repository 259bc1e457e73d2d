"""The Kalshi session logic without a socket: frames go through the real parser, their
control structs into `KalshiStream`, and what it asks for is checked."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ssmd.connector.adapters._template import StreamActions
from ssmd.connector.adapters.kalshi.adapter import KalshiAdapter
from ssmd.connector.adapters.kalshi.stream import KalshiStream
from ssmd.venues.kalshi.parse import KalshiParser

pytestmark = pytest.mark.unit

TICKERS = ["KXA-26NOV21-T1", "KXB-26NOV21-T2", "KXC-26NOV21-T3", "KXD-26NOV21-T4"]
CHANNELS = ["trade", "orderbook_delta", "ticker", "market_lifecycle_v2"]


class Session:
    """A stream and a parser, fed with server frames as dicts."""

    def __init__(self, tickers: list[str] = TICKERS, group_markets: int = 500) -> None:
        adapter = KalshiAdapter()
        self.stream = KalshiStream(
            tickers, CHANNELS, market_id_of=adapter.market_id, group_markets=group_markets
        )
        self.parser = KalshiParser()
        self.sent = [json.loads(frame) for frame in self.stream.subscribe_requests()]

    def feed(self, frame: dict[str, Any]) -> StreamActions | None:
        result = self.parser.parse(json.dumps(frame).encode(), 1_700_000_000_000_000_000)
        return self.stream.on_control(result.control)

    def acknowledge(self, command: dict[str, Any], first_sid: int) -> list[int]:
        sids = []
        for offset, channel in enumerate(command["params"]["channels"]):
            sid = first_sid + offset
            self.feed(
                {"id": command["id"], "type": "subscribed", "msg": {"channel": channel, "sid": sid}}
            )
            sids.append(sid)
        return sids


def _delta(sid: int, seq: int, ticker: str) -> dict[str, Any]:
    return {
        "type": "orderbook_delta",
        "sid": sid,
        "seq": seq,
        "msg": {
            "market_ticker": ticker,
            "price_dollars": "0.5000",
            "delta_fp": "1.00",
            "side": "yes",
        },
    }


def test_subscribes_lifecycle_once_and_markets_in_groups() -> None:
    session = Session(group_markets=3)
    lifecycle, *groups = session.sent
    assert lifecycle["params"] == {"channels": ["market_lifecycle_v2"]}
    assert [g["params"]["market_tickers"] for g in groups] == [TICKERS[:3], TICKERS[3:]]
    assert all(g["params"]["channels"] == ["trade", "orderbook_delta", "ticker"] for g in groups)
    assert groups[0]["params"]["send_initial_snapshot"] is True
    assert not session.stream.subscribed
    session.acknowledge(lifecycle, 1)
    session.acknowledge(groups[0], 2)
    assert not session.stream.subscribed
    session.acknowledge(groups[1], 5)
    assert session.stream.subscribed


def test_error_26_splits_the_group_until_accepted() -> None:
    session = Session()
    lifecycle, group = session.sent
    session.acknowledge(lifecycle, 1)
    actions = session.feed(
        {
            "id": group["id"],
            "type": "error",
            "msg": {"code": 26, "msg": "Subscription market limit exceeded"},
        }
    )
    assert actions is not None
    halves = [json.loads(frame)["params"]["market_tickers"] for frame in actions.requests]
    assert halves == [TICKERS[:2], TICKERS[2:]]
    assert not session.stream.subscribed
    first, second = (json.loads(frame) for frame in actions.requests)
    session.acknowledge(first, 10)
    session.acknowledge(second, 20)
    assert session.stream.subscribed
    # Markets added later start in groups no larger than what the venue accepted.
    added = [
        json.loads(f)["params"]["market_tickers"]
        for f in session.stream.add_markets(["X-1-A", "X-1-B", "X-1-C"])
    ]
    assert added == [["X-1-A", "X-1-B"], ["X-1-C"]]


def test_a_seq_jump_on_the_book_sid_gaps_every_market_of_the_group_and_asks_snapshots() -> None:
    session = Session(tickers=TICKERS[:2])
    _, group = session.sent
    _trade, book, _ticker = session.acknowledge(group, 7)
    assert session.feed(_delta(book, 1, TICKERS[0])) is None
    assert session.feed(_delta(book, 2, TICKERS[1])) is None
    actions = session.feed(_delta(book, 5, TICKERS[0]))
    assert actions is not None
    assert [
        (g.market, g.channel, g.reason, g.expected_seq, g.received_seq) for g in actions.gaps
    ] == [
        (f"kalshi:{TICKERS[0]}", "book", "seq", 3, 5),
        (f"kalshi:{TICKERS[1]}", "book", "seq", 3, 5),
    ]
    (request,) = (json.loads(frame) for frame in actions.requests)
    assert request["cmd"] == "update_subscription"
    assert request["params"] == {
        "sids": [book],
        "action": "get_snapshot",
        "market_tickers": TICKERS[:2],
    }
    # The numbering goes on from what arrived; a repeat is ignored.
    assert session.feed(_delta(book, 6, TICKERS[0])) is None
    assert session.feed(_delta(book, 6, TICKERS[0])) is None


def test_a_settled_market_is_dropped_and_live_ones_deleted_from_each_sid() -> None:
    session = Session(tickers=TICKERS[:3])
    lifecycle, group = session.sent
    (lifecycle_sid,) = session.acknowledge(lifecycle, 1)
    sids = session.acknowledge(group, 2)
    actions = session.feed(
        {
            "type": "market_lifecycle_v2",
            "sid": lifecycle_sid,
            "seq": 1,
            "msg": {"market_ticker": TICKERS[1], "event_type": "settled", "settled_ts": 1700000000},
        }
    )
    assert actions is not None
    assert actions.drop == [TICKERS[1]]
    # The venue already took the settled market off every sid: nothing to ask.
    assert session.stream.drop_markets([TICKERS[1]]) == []
    requests = [json.loads(frame) for frame in session.stream.drop_markets([TICKERS[2]])]
    assert [
        (r["params"]["sids"], r["params"]["action"], r["params"]["market_tickers"])
        for r in requests
    ] == [([sid], "delete_markets", [TICKERS[2]]) for sid in sids]
    (last,) = (json.loads(frame) for frame in session.stream.drop_markets([TICKERS[0]]))
    assert last["cmd"] == "unsubscribe"
    assert sorted(last["params"]["sids"]) == sorted(sids)


def test_error_27_resends_the_subscribe_after_a_delay() -> None:
    session = Session(tickers=TICKERS[:1])
    _, group = session.sent
    assert session.stream.on_tick(1_000) is None
    assert (
        session.feed(
            {"id": group["id"], "type": "error", "msg": {"code": 27, "msg": "Too many requests"}}
        )
        is None
    )
    assert session.stream.on_tick(1_000) is None  # not yet
    actions = session.stream.on_tick(1_000 + 60_000_000_000)
    assert actions is not None
    (again,) = (json.loads(frame) for frame in actions.requests)
    assert again["cmd"] == "subscribe"
    assert again["id"] != group["id"]
    assert again["params"]["market_tickers"] == TICKERS[:1]


def test_a_terminal_error_resubscribes_that_channel_with_gaps() -> None:
    session = Session(tickers=TICKERS[:2])
    _, group = session.sent
    _trade, book, _ticker = session.acknowledge(group, 3)
    actions = session.feed(
        {
            "id": 0,
            "type": "error",
            "sid": book,
            "msg": {"code": 25, "msg": "Subscription buffer overflow"},
        }
    )
    assert actions is not None
    assert {g.market for g in actions.gaps} == {f"kalshi:{t}" for t in TICKERS[:2]}
    assert {g.reason for g in actions.gaps} == {"subscription_ended"}
    (again,) = (json.loads(frame) for frame in actions.requests)
    assert again["params"]["channels"] == ["orderbook_delta"]
    assert again["params"]["market_tickers"] == TICKERS[:2]


def test_private_channels_without_signature_are_a_problem_not_a_crash() -> None:
    adapter = KalshiAdapter()
    stream = KalshiStream(TICKERS[:1], ["trade", "fill"], market_id_of=adapter.market_id)
    parser = KalshiParser()
    private = next(json.loads(f) for f in stream.subscribe_requests() if b"fill" in f)
    error = {
        "id": private["id"],
        "type": "error",
        "msg": {"code": 9, "msg": "Authentication required"},
    }
    actions = stream.on_control(parser.parse(json.dumps(error).encode(), 1).control)
    assert actions is not None
    assert actions.problem is not None
    assert "api_key_id" in actions.problem
