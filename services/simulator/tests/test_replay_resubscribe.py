"""A re-subscribe during a replay is answered as the venue answers it: with a fresh snapshot.

The true book is rebuilt here from the capture with stdlib ``json`` (numbers kept as their
text), independently of the simulator, and includes the lines a replay left out: leaving a
line out models a frame lost on its way to the client, not a change to the venue's book.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from ssmd.venues.kraken_futures import requests

if TYPE_CHECKING:
    from conftest import Client, ClientFactory, SimulatorFactory

    from ssmd.simulator.app import Simulator

pytestmark = pytest.mark.integration

FEEDS = ("book", "trade", "ticker_lite")
SNAPSHOT_KEYS = ["feed", "product_id", "timestamp", "seq", "tickSize", "bids", "asks"]
Levels = list[tuple[str, str]]


def _loads(data: bytes) -> dict[str, Any]:
    """A frame with every number kept as its text."""
    decoded: dict[str, Any] = json.loads(data, parse_float=str, parse_int=str)
    return decoded


def _capture_messages(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, message) of every data frame the capture received, in order."""
    with path.open("rb") as handle:
        received = [
            (line_no, _loads(line.split(b": ", 1)[1]))
            for line_no, line in enumerate(handle, start=1)
            if line[:1].isdigit()
        ]
    return [(line_no, message) for line_no, message in received if "event" not in message]


def _is_book(message: dict[str, Any], product: str) -> bool:
    """A book frame of `product` (not an ack: those carry ``event``)."""
    return (
        "event" not in message
        and message.get("feed") in ("book", "book_snapshot")
        and message["product_id"] == product
    )


def _true_book(path: Path, product: str, seq: int) -> tuple[int, Levels, Levels]:
    """(timestamp, bids, asks) of `product` after its book message `seq`, best first."""
    bids: dict[Decimal, tuple[str, str]] = {}
    asks: dict[Decimal, tuple[str, str]] = {}
    timestamp = -1
    for _, message in _capture_messages(path):
        if not _is_book(message, product) or int(message["seq"]) > seq:
            continue
        if message["feed"] == "book_snapshot":
            bids.clear()
            asks.clear()
            changes = [("buy", level) for level in message["bids"]]
            changes += [("sell", level) for level in message["asks"]]
        else:
            changes = [(message["side"], message)]
        for side, level in changes:
            book = bids if side == "buy" else asks
            if Decimal(level["qty"]) == 0:
                book.pop(Decimal(level["price"]), None)
            else:
                book[Decimal(level["price"])] = (level["price"], level["qty"])
        timestamp = int(message["timestamp"])
    return (
        timestamp,
        [bids[price] for price in sorted(bids, reverse=True)],
        [asks[price] for price in sorted(asks)],
    )


def _levels(snapshot: dict[str, Any], side: str) -> Levels:
    return [(level["price"], level["qty"]) for level in snapshot[side]]


def _assert_is_the_true_book(path: Path, snapshot: dict[str, Any], product: str) -> None:
    assert list(snapshot) == SNAPSHOT_KEYS  # the venue's shape, as in the capture
    assert snapshot["tickSize"] is None
    timestamp, bids, asks = _true_book(path, product, int(snapshot["seq"]))
    assert int(snapshot["timestamp"]) == timestamp
    assert _levels(snapshot, "bids") == bids
    assert _levels(snapshot, "asks") == asks


def _book_seqs(path: Path) -> dict[str, list[tuple[int, int]]]:
    """(line number, seq) of every book delta of the capture, per product."""
    seqs: dict[str, list[tuple[int, int]]] = {}
    for line_no, message in _capture_messages(path):
        if message.get("feed") == "book":
            seqs.setdefault(message["product_id"], []).append((line_no, int(message["seq"])))
    return seqs


async def _subscribe_like_the_capture(client: Client, path: Path) -> None:
    products = sorted({m["product_id"] for _, m in _capture_messages(path) if "product_id" in m})
    for feed in FEEDS:
        await client.send(requests.subscribe(feed, products))


async def _next(client: Client) -> dict[str, Any]:
    frame = await client.receive()
    assert frame is not None, "connection closed"
    return _loads(frame)


async def _post(simulator: Simulator, path: str, body: dict[str, Any]) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{simulator.url}{path}", json=body) as answer,
    ):
        assert answer.status == 200, await answer.text()


async def test_resubscribe_after_a_skipped_delta_sends_the_true_book_and_seq_goes_on(
    start_simulator: SimulatorFactory, connect: ClientFactory, ws_capture: Path
) -> None:
    deltas = _book_seqs(ws_capture)
    product = max(deltas, key=lambda p: len(deltas[p]))
    line, skipped = deltas[product][len(deltas[product]) // 5]
    last = deltas[product][-1][1]
    # 20x: the capture's 31 s take 1.5 s, so the replay goes on after the re-subscribe.
    simulator = await start_simulator(replay_path=ws_capture, replay_speed=20.0)
    await _post(simulator, "/control/replay", {"skip_lines": [line]})
    client = await connect(simulator)
    await _subscribe_like_the_capture(client, ws_capture)

    seq: int | None = None
    while True:  # the client's book sequence, until it jumps
        message = await _next(client)
        if _is_book(message, product):
            if seq is not None and int(message["seq"]) != seq + 1:
                break
            seq = int(message["seq"])
    assert (seq, int(message["seq"])) == (skipped - 1, skipped + 1)

    await client.send(requests.unsubscribe("book", [product]))
    await client.send(requests.subscribe("book", [product]))
    message = await _next(client)
    while not (_is_book(message, product) and message["feed"] == "book_snapshot"):
        message = await _next(client)  # deltas already on their way, the acks
    snapshot = message
    _assert_is_the_true_book(ws_capture, snapshot, product)
    resynced = int(snapshot["seq"])
    assert skipped < resynced < last  # taken mid-replay, with the lost delta in it
    after: list[int] = []
    while not after or after[-1] < last:
        message = await _next(client)
        if _is_book(message, product):
            after.append(int(message["seq"]))
    assert after == list(range(resynced + 1, last + 1))
    sent = simulator.ledger.entries(kind="data", feed="book_snapshot", product=product)
    assert [entry.seq for entry in sent][-1] == resynced


async def test_resubscribe_while_a_stall_holds_the_replay_back_answers_after_what_it_held(
    start_simulator: SimulatorFactory, connect: ClientFactory, ws_capture: Path
) -> None:
    simulator = await start_simulator(replay_path=ws_capture, replay_speed=0.0)
    await _post(simulator, "/control/faults", {"action": "stall", "seconds": 3})
    client = await connect(simulator)
    await _subscribe_like_the_capture(client, ws_capture)
    await asyncio.sleep(1.0)  # the replay started, and the stall holds its first batch back
    product = max(_book_seqs(ws_capture), key=lambda p: len(_book_seqs(ws_capture)[p]))
    await client.send(requests.subscribe("book", [product]))

    snapshots: list[dict[str, Any]] = []
    before: list[int] = []  # seqs of the product the client got before the re-sync
    while len(snapshots) < 2:  # the capture's own snapshot, then the re-subscribe's
        message = await _next(client)
        if _is_book(message, product):
            if message["feed"] == "book_snapshot":
                snapshots.append(message)
            elif len(snapshots) == 1:
                before.append(int(message["seq"]))
    snapshot = snapshots[1]
    assert before  # it followed the held frames, not jumped ahead of them
    assert int(snapshot["seq"]) == before[-1]
    _assert_is_the_true_book(ws_capture, snapshot, product)
    message = await _next(client)
    while not _is_book(message, product):
        message = await _next(client)
    assert int(message["seq"]) == int(snapshot["seq"]) + 1


async def test_resubscribe_after_the_replay_ended_sends_the_final_book_and_recent_trades(
    start_simulator: SimulatorFactory, connect: ClientFactory, ws_capture: Path
) -> None:
    messages = [m for _, m in _capture_messages(ws_capture)]
    traded = next(m["product_id"] for m in messages if m.get("feed") == "trade")
    recorded = next(
        m["trades"]
        for m in messages
        if m.get("feed") == "trade_snapshot" and m["product_id"] == traded
    )
    live = [m for m in messages if m.get("feed") == "trade" and m["product_id"] == traded]
    deltas = _book_seqs(ws_capture)
    product = max(deltas, key=lambda p: len(deltas[p]))
    simulator = await start_simulator(replay_path=ws_capture, replay_speed=0.0)
    client = await connect(simulator)
    await _subscribe_like_the_capture(client, ws_capture)
    data = sum(m["feed"] in ("book_snapshot", "book", "trade_snapshot", "trade") for m in messages)
    data += sum(m["feed"] == "ticker_lite" for m in messages)
    seen = 0
    while seen < data:  # the whole capture
        seen += "event" not in await _next(client)

    await client.send(requests.subscribe("trade", [traded]))
    await client.send(requests.subscribe("book", [product]))
    message = await _next(client)
    while message.get("feed") != "trade_snapshot":
        message = await _next(client)
    assert message["trades"] == (live[::-1] + recorded)[:50]  # newest first, as the venue
    while message.get("feed") != "book_snapshot":
        message = await _next(client)
    assert int(message["seq"]) == deltas[product][-1][1]
    _assert_is_the_true_book(ws_capture, message, product)
