"""Fault injection on the simulated Kalshi: seq gaps, malformed frames, drops, stalls."""

from __future__ import annotations

import asyncio
import itertools
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
import msgspec
import pytest

from ssmd.simulator.faults import FaultRequest

if TYPE_CHECKING:
    from conftest import Client, VenueFactory

pytestmark = pytest.mark.integration

FED = "KXFED-26DEC-T4.00"
NYC = "KXHIGHNY-26NOV21-B53.5"


class _Envelope(msgspec.Struct, frozen=True):
    type: str
    msg: msgspec.Raw
    sid: int | None = None
    seq: int | None = None


class _Delta(msgspec.Struct, frozen=True):
    market_ticker: str
    market_id: str
    price_dollars: str
    delta_fp: str
    side: Literal["yes", "no"]
    ts_ms: int


class _Trade(msgspec.Struct, frozen=True):
    trade_id: str
    market_ticker: str
    yes_price_dollars: str
    no_price_dollars: str
    count_fp: str
    taker_side: Literal["yes", "no"]
    ts_ms: int


def _strict_parse(frame: bytes) -> _Envelope:
    """What a Kalshi parser checks (raises msgspec errors on a malformed frame)."""
    envelope = msgspec.json.decode(frame, type=_Envelope)
    if envelope.type == "orderbook_delta":
        msgspec.json.decode(envelope.msg, type=_Delta)
    elif envelope.type == "trade":
        msgspec.json.decode(envelope.msg, type=_Trade)
    return envelope


async def _book_seqs(client: Client, count: int) -> list[int]:
    seqs: list[int] = []
    while len(seqs) < count:
        message = await client.receive_json()
        if message.get("sid") == 1 and "seq" in message:
            seqs.append(message["seq"])
    return seqs


async def test_skip_seq_makes_every_covering_sid_jump(kalshi: VenueFactory) -> None:
    venue = await kalshi(events_per_s=3000.0)
    clients = [await venue.connect(), await venue.connect()]
    for client in clients:
        await client.command("subscribe", {"channels": ["orderbook_delta"], "market_ticker": FED})
    other = await venue.connect()
    await other.command("subscribe", {"channels": ["orderbook_delta"], "market_ticker": NYC})
    before = [await _book_seqs(client, 20) for client in clients]
    answer = await venue.exchange.apply_fault(
        FaultRequest(action="skip_seq", product=FED.lower(), count=3)
    )
    assert answer["product"] == FED
    skipped = answer["skipped"]
    assert isinstance(skipped, list)
    assert [s["connection"] for s in skipped] == [1, 2]
    for client, seen, skip in zip(clients, before, skipped, strict=True):
        seqs = seen + await _book_seqs(client, 60)
        jumps = [(a, b) for a, b in itertools.pairwise(seqs) if b != a + 1]
        first, last = skip["skipped"]
        assert last - first == 2
        assert jumps == [(first - 1, last + 1)]
    unaffected = await _book_seqs(other, 80)
    assert unaffected == list(range(1, 81))
    entries = venue.ledger.entries(kind="fault", feed="skip_seq")
    assert [(e.connection, e.product) for e in entries] == [(1, FED), (2, FED)]
    with pytest.raises(ValueError, match="no market"):
        await venue.exchange.apply_fault(
            FaultRequest(action="skip_seq", product="KXNOPE-26NOV21-T1")
        )


async def test_one_malformed_frame_is_sent_recorded_and_rejected(kalshi: VenueFactory) -> None:
    venue = await kalshi(events_per_s=0.0)
    client = await venue.connect()
    await client.command("subscribe", {"channels": ["trade"], "market_ticker": FED})
    await client.receive_json()
    answer = await venue.exchange.apply_fault(FaultRequest(action="malformed"))
    frames = answer["frames"]
    assert isinstance(frames, dict)
    frame = await client.receive()
    assert frame is not None
    assert frame.decode() == frames["1"]
    with pytest.raises((msgspec.DecodeError, msgspec.ValidationError)):
        _strict_parse(frame)
    (entry,) = venue.ledger.entries(kind="fault", feed="malformed")
    assert (entry.connection, entry.detail) == (1, frames["1"])


async def test_a_malformed_rate_mixes_rejectable_frames_into_the_stream(
    kalshi: VenueFactory,
) -> None:
    venue = await kalshi(events_per_s=3000.0, trade_share=0.3)
    client = await venue.connect()
    await client.command(
        "subscribe", {"channels": ["orderbook_delta", "trade"], "market_ticker": FED}
    )
    await venue.exchange.apply_fault(FaultRequest(action="malformed", rate=0.2))
    bad: list[str] = []
    good_seqs = []
    for _ in range(400):
        frame = await client.receive()
        assert frame is not None
        try:
            envelope = _strict_parse(frame)
        except (msgspec.DecodeError, msgspec.ValidationError):
            bad.append(frame.decode())
            continue
        if envelope.sid == 1 and envelope.seq is not None:
            good_seqs.append(envelope.seq)
    assert len(bad) > 20
    assert good_seqs == list(range(good_seqs[0], good_seqs[0] + len(good_seqs))), (
        "a rejected frame costs no sequence number"
    )
    recorded = venue.ledger.entries(kind="fault", feed="malformed", connection=1)
    assert set(bad) <= {entry.detail for entry in recorded}, "every rejected frame was a fault"
    await venue.exchange.apply_fault(FaultRequest(action="malformed", rate=0.0))
    assert venue.exchange.flow.malformed_rate == 0


@pytest.mark.parametrize("mode", ["abort", "close"])
async def test_drop_connections_drops_every_client(
    kalshi: VenueFactory, mode: Literal["abort", "close"]
) -> None:
    venue = await kalshi(events_per_s=500.0)
    client = await venue.connect()
    await client.command("subscribe", {"channels": ["ticker"]})
    answer = await venue.exchange.apply_fault(FaultRequest(action="drop_connections", mode=mode))
    assert answer == {"dropped": [1]}
    for _ in range(1000):
        message = await client.ws.receive(timeout=5)
        if message.type != aiohttp.WSMsgType.TEXT:
            break
    else:
        pytest.fail("the connection stayed open")
    if mode == "close":
        assert message.type == aiohttp.WSMsgType.CLOSE
        assert message.data == aiohttp.WSCloseCode.GOING_AWAY
    (entry,) = venue.ledger.entries(kind="fault", feed="drop_connections")
    assert (entry.connection, entry.detail) == (1, mode)


async def test_stall_stops_the_feed_then_it_resumes(kalshi: VenueFactory) -> None:
    venue = await kalshi(events_per_s=3000.0)
    client = await venue.connect()
    await client.command("subscribe", {"channels": ["orderbook_delta"], "market_ticker": FED})
    await _book_seqs(client, 10)
    answer: dict[str, Any] = await venue.exchange.apply_fault(
        FaultRequest(action="stall", seconds=0.5)
    )
    assert answer["stalled_until_ns"] > 0
    assert venue.exchange.stalled
    seq_at_stall = venue.exchange.markets[FED].book_seq
    await asyncio.sleep(0.3)
    assert venue.exchange.markets[FED].book_seq == seq_at_stall
    await client.drain(quiet_s=0.1)
    await _book_seqs(client, 5)  # data resumes after the stall
    (entry,) = venue.ledger.entries(kind="fault", feed="stall")
    assert entry.detail == "0.5s"
