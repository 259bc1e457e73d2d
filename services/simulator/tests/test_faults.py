"""Fault injection through the control API: each fault happens and is in the ledger."""

from __future__ import annotations

import asyncio
import itertools
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from ssmd.contracts.events import BookDelta, BookSnapshot
from ssmd.venues.errors import MalformedFrame
from ssmd.venues.kraken_futures import requests
from ssmd.venues.kraken_futures.parse import KrakenFuturesParser

if TYPE_CHECKING:
    from conftest import ClientFactory, SimulatorFactory

    from ssmd.simulator.app import Simulator

pytestmark = pytest.mark.integration

PERP = "PF_XBTUSD"


async def _post_fault(simulator: Simulator, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{simulator.url}/control/faults", json=body) as answer,
    ):
        return answer.status, await answer.json()


async def test_skip_seq_makes_the_book_sequence_jump(
    start_simulator: SimulatorFactory, connect: ClientFactory
) -> None:
    simulator = await start_simulator(events_per_s=2000.0)
    client = await connect(simulator)
    await client.send(requests.subscribe("book", [PERP]))
    parser = KrakenFuturesParser()
    seqs: list[int] = []
    injected: dict[str, Any] | None = None
    while len(seqs) < 400:
        frame = await client.receive()
        assert frame is not None
        for event in parser.parse(frame, 0).events:
            if isinstance(event, BookSnapshot | BookDelta):
                assert event.seq is not None
                seqs.append(event.seq)
        if injected is None and len(seqs) > 50:
            status, injected = await _post_fault(
                simulator, {"action": "skip_seq", "product": "pf_xbtusd", "count": 3}
            )
            assert status == 200
    assert injected is not None
    skipped = injected["skipped_seqs"]
    assert len(skipped) == 3
    jumps = [(a, b) for a, b in itertools.pairwise(seqs) if b != a + 1]
    assert jumps == [(skipped[0] - 1, skipped[-1] + 1)]
    (entry,) = simulator.ledger.entries(kind="fault", feed="skip_seq")
    assert (entry.product, entry.seq, entry.connection) == (PERP, skipped[0], None)


async def test_one_malformed_frame_is_sent_and_recorded(
    start_simulator: SimulatorFactory, connect: ClientFactory
) -> None:
    simulator = await start_simulator(events_per_s=0.0)
    client = await connect(simulator)
    assert (await client.receive_json())["event"] == "info"
    status, answer = await _post_fault(simulator, {"action": "malformed"})
    assert status == 200
    frame = await client.receive()
    assert frame is not None
    assert frame.decode() == answer["frame"]
    with pytest.raises(MalformedFrame):
        KrakenFuturesParser().parse(frame, 0)
    (entry,) = simulator.ledger.entries(kind="fault", feed="malformed")
    assert entry.connection == 1
    assert entry.detail == answer["frame"]


async def test_malformed_rate_mixes_bad_frames_into_the_stream(
    start_simulator: SimulatorFactory, connect: ClientFactory
) -> None:
    simulator = await start_simulator(events_per_s=2000.0)
    client = await connect(simulator)
    await client.send(requests.subscribe("book", [PERP]))
    status, _ = await _post_fault(simulator, {"action": "malformed", "rate": 0.2})
    assert status == 200
    parser = KrakenFuturesParser()
    bad = 0
    for _ in range(300):
        frame = await client.receive()
        assert frame is not None
        try:
            parser.parse(frame, 0)
        except MalformedFrame:
            bad += 1
    assert bad > 0
    sent_bad = simulator.ledger.entries(kind="fault", feed="malformed", connection=1)
    assert len(sent_bad) >= bad
    await _post_fault(simulator, {"action": "malformed", "rate": 0})
    assert simulator.exchange.malformed_rate == 0


async def test_drop_connections_closes_the_socket(
    start_simulator: SimulatorFactory, connect: ClientFactory
) -> None:
    simulator = await start_simulator(events_per_s=100.0)
    client = await connect(simulator)
    assert (await client.receive_json())["event"] == "info"
    status, answer = await _post_fault(simulator, {"action": "drop_connections"})
    assert (status, answer["dropped"]) == (200, [1])
    for _ in range(100):
        if await client.receive() is None:
            break
    else:
        pytest.fail("the connection stayed open")
    (entry,) = simulator.ledger.entries(kind="fault", feed="drop_connections")
    assert (entry.connection, entry.detail) == (1, "abort")


async def test_drop_with_close_frame(
    start_simulator: SimulatorFactory, connect: ClientFactory
) -> None:
    simulator = await start_simulator(events_per_s=0.0)
    client = await connect(simulator)
    assert (await client.receive_json())["event"] == "info"
    status, _ = await _post_fault(simulator, {"action": "drop_connections", "mode": "close"})
    assert status == 200
    message = await client.ws.receive(timeout=5)
    assert message.type == aiohttp.WSMsgType.CLOSE
    assert message.data == aiohttp.WSCloseCode.GOING_AWAY


async def test_stall_stops_data_then_it_resumes(
    start_simulator: SimulatorFactory, connect: ClientFactory
) -> None:
    simulator = await start_simulator(events_per_s=2000.0)
    client = await connect(simulator)
    await client.send(requests.subscribe("book", [PERP]))
    for _ in range(20):
        await client.receive()
    status, answer = await _post_fault(simulator, {"action": "stall", "seconds": 0.5})
    assert status == 200
    assert simulator.exchange.stalled
    generated_at_stall = simulator.exchange.products[PERP].book_seq
    # While stalled the venue generates nothing (the queue may still flush what it had).
    for _ in range(100):  # bounded: the stall lasts 0.5 s
        if not simulator.exchange.stalled:
            break
        assert simulator.exchange.products[PERP].book_seq == generated_at_stall
        await asyncio.sleep(0.02)
    frame = await client.receive()  # data resumes after the stall
    assert frame is not None
    (entry,) = simulator.ledger.entries(kind="fault", feed="stall")
    assert entry.detail == "0.5s"
    assert answer["stalled_until_ns"] > 0


@pytest.mark.parametrize(
    "body",
    [
        {"action": "explode"},
        {"action": "skip_seq"},
        {"action": "skip_seq", "product": "PF_NOPEUSD"},
        {"action": "malformed", "rate": 2},
        {"action": "stall"},
        {"action": "stall", "seconds": 1, "extra": True},
    ],
)
async def test_bad_fault_requests_are_refused(
    start_simulator: SimulatorFactory, body: dict[str, Any]
) -> None:
    simulator = await start_simulator(events_per_s=0.0)
    status, answer = await _post_fault(simulator, body)
    assert status == 400
    assert answer["error"]
