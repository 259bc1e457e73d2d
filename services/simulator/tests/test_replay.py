"""Replay of the 2021 Kraken Futures capture: clients get the recorded frames, unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import pytest

from ssmd.contracts.events import BookDelta, BookSnapshot, Trade
from ssmd.venues.capture import read_capture, write_jsonl_capture
from ssmd.venues.kraken_futures import requests
from ssmd.venues.kraken_futures.parse import KrakenFuturesParser

if TYPE_CHECKING:
    from conftest import Client, ClientFactory, SimulatorFactory

pytestmark = pytest.mark.integration

PRODUCTS = [
    "fi_ethusd_211231",
    "pi_xrpusd",
    "pi_ltcusd",
    "fi_bchusd_210730",
    "pi_ethusd",
    "fi_xbtusd_210924",
    "fi_ethusd_210730",
    "fi_bchusd_210924",
    "fi_xrpusd_210924",
    "fi_xbtusd_210730",
]
DATA_FRAMES = 10 + 7014 + 10 + 3 + 107  # book_snapshot, book, trade_snapshot, trade, ticker_lite


def _data_frames(path: Path) -> list[tuple[int, bytes]]:
    parser = KrakenFuturesParser()
    return [
        (r.line_no, r.frame)
        for r in read_capture(path)
        if r.direction == "in" and parser.parse(r.frame, 0).events
    ]


async def _subscribe_like_the_capture(client: Client) -> None:
    for feed in ("book", "trade", "ticker_lite"):
        await client.send(requests.subscribe(feed, PRODUCTS))


async def _receive_data(client: Client, count: int) -> list[bytes]:
    data: list[bytes] = []
    while len(data) < count:
        frame = await client.receive()
        assert frame is not None, f"closed after {len(data)} data frames"
        if not frame.startswith(b'{"event"'):
            data.append(frame)
    return data


async def test_capture_is_delivered_byte_for_byte(
    start_simulator: SimulatorFactory, connect: ClientFactory, ws_capture: Path
) -> None:
    simulator = await start_simulator(replay_path=ws_capture, replay_speed=0.0)
    client = await connect(simulator)
    await _subscribe_like_the_capture(client)
    expected = [frame for _, frame in _data_frames(ws_capture)]
    assert len(expected) == DATA_FRAMES
    assert await _receive_data(client, DATA_FRAMES) == expected
    acks = [f for f in client.frames if f.startswith(b'{"event":"subscribed"')]
    assert len(acks) == 30
    summary = simulator.ledger.summary()
    data_sent = sum(g["count"] for g in summary["groups"] if g["kind"] == "data")  # type: ignore[index, union-attr]
    # trade_snapshot frames are recorded once per trade they carry.
    assert data_sent >= DATA_FRAMES
    parser = KrakenFuturesParser()
    live_uids = [
        event.trade_id
        for frame in expected
        if frame.startswith(b'{"feed":"trade",')
        for event in parser.parse(frame, 0).events
        if isinstance(event, Trade)
    ]
    trades = simulator.ledger.entries(kind="data", feed="trade", connection=1)
    assert [t.uid for t in trades] == live_uids
    assert len(live_uids) == 3


async def test_replay_only_sends_what_the_client_subscribed(
    start_simulator: SimulatorFactory, connect: ClientFactory, ws_capture: Path
) -> None:
    simulator = await start_simulator(replay_path=ws_capture, replay_speed=0.0)
    client = await connect(simulator)
    await client.send(requests.subscribe("trade", ["PI_ETHUSD"]))
    parser = KrakenFuturesParser()
    expected = [
        f
        for _, f in _data_frames(ws_capture)
        if parser.parse(f, 0).product_id == "PI_ETHUSD"
        and parser.parse(f, 0).feed in ("trade", "trade_snapshot")
    ]
    assert await _receive_data(client, len(expected)) == expected


async def test_skip_lines_leaves_a_gap_in_the_book_sequence(
    start_simulator: SimulatorFactory, connect: ClientFactory, ws_capture: Path
) -> None:
    simulator = await start_simulator(replay_path=ws_capture, replay_speed=0.0)
    frames = _data_frames(ws_capture)
    parser = KrakenFuturesParser()
    line, frame = next((n, f) for n, f in frames[200:] if parser.parse(f, 0).feed == "book")
    (skipped,) = parser.parse(frame, 0).events
    assert isinstance(skipped, BookDelta)
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{simulator.url}/control/replay", json={"skip_lines": [line]}) as answer,
    ):
        state = await answer.json()
    assert state["skip_lines"] == [line]
    client = await connect(simulator)
    await _subscribe_like_the_capture(client)
    received = await _receive_data(client, DATA_FRAMES - 1)
    last: dict[str, int] = {}
    gaps = []
    for data in received:
        for event in parser.parse(data, 0).events:
            if isinstance(event, BookSnapshot):
                last[event.market] = event.seq or 0
            elif isinstance(event, BookDelta):
                assert event.seq is not None
                if event.seq != last[event.market] + 1:
                    gaps.append((event.market, last[event.market], event.seq))
                last[event.market] = event.seq
    assert skipped.seq is not None
    assert gaps == [(skipped.market, skipped.seq - 1, skipped.seq + 1)]


async def test_jsonl_capture_replays_too(
    start_simulator: SimulatorFactory, connect: ClientFactory, ws_capture: Path, tmp_path: Path
) -> None:
    records = [r for r in read_capture(ws_capture) if r.direction == "in"][:400]
    path = tmp_path / "capture.jsonl"
    write_jsonl_capture(path, [(r.ts_ns, r.frame) for r in records])
    simulator = await start_simulator(replay_path=path, replay_speed=0.0)
    client = await connect(simulator)
    await _subscribe_like_the_capture(client)
    expected = [f for _, f in _data_frames(path)]
    assert await _receive_data(client, len(expected)) == expected


async def test_replay_paces_by_capture_time(
    start_simulator: SimulatorFactory, connect: ClientFactory, ws_capture: Path, tmp_path: Path
) -> None:
    path = tmp_path / "paced.jsonl"
    write_jsonl_capture(
        path,
        [
            (1_000_000_000, b'{"feed":"heartbeat","time":1}'),
            (1_000_000_000, b'{"feed":"ticker_lite","product_id":"PI_XBTUSD","bid":1.5,"ask":2}'),
            (1_200_000_000, b'{"feed":"ticker_lite","product_id":"PI_XBTUSD","bid":1.5,"ask":3}'),
        ],
    )
    simulator = await start_simulator(replay_path=path, replay_speed=1.0, replay_start_delay_s=0.0)
    client = await connect(simulator)
    await client.send(requests.subscribe("ticker_lite", ["PI_XBTUSD"]))
    frames = await _receive_data(client, 2)
    assert frames[1].endswith(b'"ask":3}')
    entries = simulator.ledger.entries(feed="ticker_lite")
    assert entries[1].ts_ns - entries[0].ts_ns >= 150_000_000  # 0.2 s apart in the capture
