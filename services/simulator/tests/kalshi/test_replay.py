"""Replay of a Kalshi capture (built from the 2026-04 docs examples), re-numbered per client."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from ssmd.simulator.venue import LifecycleRequest
from ssmd.testing.fixtures import venue_fixture
from ssmd.venues.capture import write_jsonl_capture

if TYPE_CHECKING:
    from conftest import Client, VenueFactory

pytestmark = pytest.mark.integration

FED = "FED-23DEC-T3.00"
NYC = "HIGHNY-22DEC23-B53.5"
INX = "INXD-23SEP14-B4487"
START_NS = 1_669_149_841_000_000_000


def _examples() -> dict[str, dict[str, Any]]:
    path = venue_fixture("kalshi/docs_asyncapi_examples_2026-04.jsonl")
    lines = [msgspec.json.decode(line) for line in path.read_bytes().splitlines() if line]
    return {line["example"]: line["payload"] for line in lines}


@pytest.fixture
def capture(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    """A capture of docs example frames (line n is payloads[n - 1])."""
    examples = _examples()
    delta = examples["priceLevelUpdate"]
    another_delta = {
        **delta,
        "seq": 4,
        "msg": {**delta["msg"], "price_dollars": "0.0800", "delta_fp": "-100.00"},
    }
    payloads = [
        examples["subscriptionConfirmed"],  # a reply: not replayed
        examples["orderbookWithBothSides"],
        delta,
        examples["tickerUpdate"],
        examples["tradeNotification"],
        examples["marketCreated"],
        examples["eventCreated"],
        examples["userFill"],  # private: not replayed
        another_delta,
    ]
    path = tmp_path / "kalshi_capture.jsonl"
    write_jsonl_capture(
        path,
        [(START_NS + n * 1_000_000, msgspec.json.encode(p)) for n, p in enumerate(payloads)],
    )
    return path, payloads


async def _frames(client: Client, count: int) -> list[bytes]:
    frames: list[bytes] = []
    while len(frames) < count:
        frame = await client.receive()
        assert frame is not None
        if b'"type":"subscribed"' not in frame:
            frames.append(frame)
    return frames


def _msg_bytes(payload: dict[str, Any]) -> bytes:
    return msgspec.json.encode(payload["msg"])


async def test_each_client_gets_its_subscriptions_frames_renumbered(
    kalshi: VenueFactory, capture: tuple[Path, list[dict[str, Any]]]
) -> None:
    path, payloads = capture
    venue = await kalshi(replay_path=path, replay_speed=0.0, replay_start_delay_s=0.05)
    assert venue.exchange.mode == "replay"
    assert venue.exchange.product_ids == {FED, NYC, INX}
    client = await venue.connect()
    await client.command(
        "subscribe",
        {"channels": ["orderbook_delta", "trade", "ticker"], "market_tickers": [FED, NYC]},
    )
    await client.command("subscribe", {"channels": ["market_lifecycle_v2"]})
    frames = await _frames(client, 7)
    heads = [msgspec.json.decode(f) for f in frames]
    assert [(h["type"], h["sid"], h.get("seq")) for h in heads] == [
        ("orderbook_snapshot", 1, 1),
        ("orderbook_delta", 1, 2),
        ("ticker", 3, None),
        ("trade", 2, 1),
        ("market_lifecycle_v2", 4, 1),
        ("event_lifecycle", 4, 2),
        ("orderbook_delta", 1, 3),
    ]
    for frame, payload in zip(frames, [payloads[i] for i in (1, 2, 3, 4, 5, 6, 8)], strict=True):
        assert frame.endswith(b',"msg":' + _msg_bytes(payload) + b"}"), "msg bytes unchanged"
    (trade,) = venue.ledger.entries(kind="data", feed="trade")
    documented = payloads[4]["msg"]
    assert (trade.product, trade.seq, trade.uid, trade.price, trade.qty) == (
        NYC,
        1,
        documented["trade_id"],
        documented["yes_price_dollars"],
        documented["count_fp"],
    )
    state = venue.exchange.replay_state()
    assert (state["enabled"], state["frames"], state["products"]) == (True, 7, [FED, NYC, INX])


async def test_skip_lines_leave_frames_out_and_snapshots_follow_the_capture(
    kalshi: VenueFactory, capture: tuple[Path, list[dict[str, Any]]]
) -> None:
    path, payloads = capture
    venue = await kalshi(replay_path=path, replay_speed=0.0, replay_start_delay_s=0.05)
    venue.exchange.set_replay(speed=None, skip_lines=[3])  # the first delta
    assert venue.exchange.replay_state()["skip_lines"] == [3]
    client = await venue.connect()
    await client.command("subscribe", {"channels": ["orderbook_delta"], "market_ticker": FED})
    heads = [msgspec.json.decode(f) for f in await _frames(client, 2)]
    assert [(h["type"], h["seq"]) for h in heads] == [
        ("orderbook_snapshot", 1),
        ("orderbook_delta", 2),
    ]
    assert heads[1]["msg"]["price_dollars"] == "0.0800"
    await client.drain(quiet_s=0.2)
    # The venue's book moved with every capture line, the left-out one included.
    await client.command(
        "update_subscription", {"sid": 1, "action": "get_snapshot", "market_ticker": FED}
    )
    snapshot = await client.receive_json()
    assert (snapshot["type"], snapshot["id"], snapshot["seq"]) == ("orderbook_snapshot", 2, 3)
    book = {
        side: {p: Decimal(c) for p, c in payloads[1]["msg"].get(f"{side}_dollars_fp", [])}
        for side in ("yes", "no")
    }
    for delta in (payloads[2]["msg"], payloads[8]["msg"]):
        levels = book[delta["side"]]
        size = levels.get(delta["price_dollars"], Decimal(0)) + Decimal(delta["delta_fp"])
        if size > 0:
            levels[delta["price_dollars"]] = size
        else:
            levels.pop(delta["price_dollars"], None)
    for side in ("yes", "no"):
        got = {p: Decimal(c) for p, c in snapshot["msg"].get(f"{side}_dollars_fp", [])}
        assert got == book[side]
    assert snapshot["msg"]["market_id"] == payloads[1]["msg"]["market_id"]


async def test_replay_mode_refuses_unknown_markets_and_lifecycle(
    kalshi: VenueFactory, capture: tuple[Path, list[dict[str, Any]]]
) -> None:
    path, _ = capture
    venue = await kalshi(replay_path=path, replay_speed=0.0)
    await venue.exchange.run_generator()  # returns at once in replay mode
    client = await venue.connect()
    await client.command("subscribe", {"channels": ["trade"], "market_ticker": "KXFED-26DEC-T4.00"})
    assert (await client.receive_json())["msg"]["code"] == 11
    with pytest.raises(ValueError, match="synthetic mode"):
        venue.exchange.lifecycle(LifecycleRequest(product=FED, action="pause"))
    status, body = await venue.get(f"/markets/{NYC}")
    assert (status, body["market"]["yes_bid_dollars"]) == (200, "0.0000")
    assert venue.exchange.book_state(FED) is None


async def test_set_replay_needs_replay_mode(kalshi: VenueFactory) -> None:
    venue = await kalshi(events_per_s=0.0)
    assert venue.exchange.replay_state()["enabled"] is False
    with pytest.raises(ValueError, match="not in replay mode"):
        venue.exchange.set_replay(speed=2.0, skip_lines=None)


async def test_a_cryptofeed_capture_with_requests_and_bad_lines_replays_its_data(
    kalshi: VenueFactory, tmp_path: Path
) -> None:
    examples = _examples()
    snapshot, delta = examples["orderbookWithBothSides"], examples["priceLevelUpdate"]
    lines = [
        f"wss://api.elections.kalshi.com/trade-api/ws/v2 <- 1669149840.5: "
        f"{msgspec.json.encode(examples['subscribeToOrderbook']).decode()}",
        f"1669149841.0: {msgspec.json.encode(snapshot).decode()}",
        '1669149841.1: {"type":"orderbook_delta","msg":',  # cut: left out
    ]
    for n in range(300):  # more than one replay batch
        size = "1.00" if n % 2 == 0 else "-1.00"
        frame = {**delta, "msg": {**delta["msg"], "price_dollars": "0.2200", "delta_fp": size}}
        lines.append(f"1669149841.{200 + n}: {msgspec.json.encode(frame).decode()}")
    path = tmp_path / "kalshi.cryptofeed.txt"
    path.write_text("\n".join(lines) + "\n")
    venue = await kalshi(replay_path=path, replay_speed=0.0, replay_start_delay_s=0.0)
    assert venue.exchange.replay is not None
    assert venue.exchange.replay.malformed_lines == [3]
    client = await venue.connect()
    await client.command("subscribe", {"channels": ["orderbook_delta"], "market_ticker": FED})
    heads = [msgspec.json.decode(f) for f in await _frames(client, 301)]
    assert [h["seq"] for h in heads] == list(range(1, 302))
    assert heads[0]["type"] == "orderbook_snapshot"
    with pytest.raises(ValueError, match="speed"):
        venue.exchange.set_replay(speed=-1.0, skip_lines=None)


async def test_replay_is_paced_by_the_capture_clock(
    kalshi: VenueFactory, capture: tuple[Path, list[dict[str, Any]]]
) -> None:
    path, _ = capture  # data frames 1 ms apart: 7 ms from first to last
    venue = await kalshi(replay_path=path, replay_speed=0.035, replay_start_delay_s=0.0)
    client = await venue.connect()
    await client.command("subscribe", {"channels": ["orderbook_delta"], "market_tickers": [FED]})
    await client.receive_json()
    clock = venue.clock
    first = await client.receive()
    started_ns = clock.monotonic_ns()
    await _frames(client, 2)
    elapsed_s = (clock.monotonic_ns() - started_ns) / 1e9
    assert first is not None
    assert elapsed_s >= 0.15, "7 ms of capture at speed 0.035 take 0.2 s"
