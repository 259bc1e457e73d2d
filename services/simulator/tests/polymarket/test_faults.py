"""Fault injection on the simulated Polymarket venue: each fault happens and is in the ledger."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import aiohttp
import msgspec
import pytest

from ssmd.core.clock import SimulatedClock
from ssmd.simulator.polymarket.symbols import market_ids

if TYPE_CHECKING:
    from conftest import Books, Client, ClientFactory, VenueFactory

pytestmark = pytest.mark.integration

BTC = "will-btc-close-above-100k-on-nov-30"
STEP_S = 0.01


def _decode(text: str) -> list[dict[str, object]]:
    try:
        decoded = msgspec.json.decode(text)
    except msgspec.DecodeError:
        return []
    return decoded if isinstance(decoded, list) else [decoded]


async def _advance(clock: SimulatedClock, steps: int) -> None:
    for _ in range(steps):
        clock.advance(STEP_S)
        for _ in range(3):
            await asyncio.sleep(0)  # the generator wakes and sends


async def _apply_until_synced(client: Client, books: Books) -> None:
    await client.send("PING")
    while (text := await client.receive_text()) != "PONG":
        assert text is not None
        for message in _decode(text):
            books.apply(message)


async def test_skip_seq_leaves_out_price_changes_so_the_client_book_diverges(
    start_venue: VenueFactory, connect: ClientFactory, new_books: type[Books]
) -> None:
    clock = SimulatedClock(1_700_000_000_000_000_000)
    venue = await start_venue(clock=clock, events_per_s=3000.0, markets=[BTC], step_s=STEP_S)
    client = await connect(venue)
    await client.subscribe(venue.assets(BTC))
    books = new_books()
    cid = market_ids(BTC).condition_id
    await _advance(clock, 20)
    await _apply_until_synced(client, books)
    state = venue.exchange.book_state(cid)
    assert state is not None
    yes = str(state["asset_id"])
    assert list(books.books[yes].levels()) == [state["bids"], state["asks"]]
    assert books.mismatches == []
    result = await venue.fault(action="skip_seq", product=BTC, count=5)
    assert result == {"product": cid, "skipped_price_changes": 5}
    await _advance(clock, 1)
    await _apply_until_synced(client, books)
    state = venue.exchange.book_state(cid)
    assert state is not None
    # The entries after the gap carry the venue's top of book, which the client's book
    # (missing the left-out changes) disagrees with: how a client detects the gap.
    assert books.mismatches
    faults = venue.ledger.entries(kind="fault", feed="skip_seq", product=cid)
    assert [e.detail for e in faults] == ["next 5 price_change", "left out 5 price_change"]


async def test_malformed_now_sends_one_bad_frame_to_every_connection(
    start_venue: VenueFactory, connect: ClientFactory
) -> None:
    venue = await start_venue(events_per_s=0.0)
    first, second = await connect(venue), await connect(venue)
    for client in (first, second):
        await client.send("PING")
        assert await client.receive_text() == "PONG"
    result = await venue.fault(action="malformed")
    assert sorted(result["connections"]) == [1, 2]  # type: ignore[call-overload]
    for client in (first, second):
        assert await client.receive_text() == result["frame"]
    entries = venue.ledger.entries(kind="fault", feed="malformed")
    assert sorted(e.connection for e in entries) == [1, 2]  # type: ignore[type-var]
    assert {e.detail for e in entries} == {result["frame"]}


async def test_a_malformed_rate_mixes_bad_frames_into_the_stream_until_turned_off(
    start_venue: VenueFactory, connect: ClientFactory
) -> None:
    venue = await start_venue(events_per_s=2000.0)
    client = await connect(venue)
    await client.subscribe(venue.assets(BTC), initial_dump=False)
    await venue.fault(action="malformed", rate=0.5)
    bad = 0
    for _ in range(100):
        text = await client.receive_text()
        assert text is not None
        messages = _decode(text)
        if (
            not messages
            or any(
                "market" not in m or m.get("bids") == [{"price": "abc", "size": "10"}]
                for m in messages
            )
            or (
                messages[0].get("event_type") == "price_change"
                and "price_changes" not in messages[0]
            )
        ):
            bad += 1
    assert bad > 10
    await venue.fault(action="malformed", rate=0.0)
    assert venue.ledger.entries(kind="fault", feed="malformed_rate")[-1].detail == "0.0"
    recorded = venue.ledger.entries(kind="fault", feed="malformed", connection=1)
    assert len(recorded) >= bad


@pytest.mark.parametrize(
    ("mode", "code"), [("abort", None), ("close", aiohttp.WSCloseCode.GOING_AWAY)]
)
async def test_drop_connections_ends_every_session(
    start_venue: VenueFactory, connect: ClientFactory, mode: str, code: int | None
) -> None:
    venue = await start_venue(events_per_s=500.0)
    client = await connect(venue)
    await client.subscribe(venue.assets(BTC))
    await client.receive()
    result = await venue.fault(action="drop_connections", mode=mode)
    assert result == {"dropped": [1]}
    while await client.receive_text() is not None:
        pass
    if code is not None:
        assert client.ws.close_code == code
    [entry] = venue.ledger.entries(kind="fault", feed="drop_connections")
    assert (entry.connection, entry.detail) == (1, mode)


async def test_stall_silences_the_feed_and_then_it_resumes(
    start_venue: VenueFactory, connect: ClientFactory
) -> None:
    venue = await start_venue(events_per_s=2000.0)
    client = await connect(venue)
    await client.subscribe(venue.assets(BTC), initial_dump=False)
    await client.receive()
    await venue.fault(action="stall", seconds=1.2)
    await client.quiet(0.15)  # what was on its way
    with pytest.raises(TimeoutError):
        await client.receive_text(0.3)
    assert await client.receive(5.0)  # data again once the stall is over
    assert venue.ledger.entries(kind="fault", feed="stall")[0].detail == "1.2s"


async def test_faults_that_cannot_be_carried_out_are_refused(start_venue: VenueFactory) -> None:
    venue = await start_venue(events_per_s=0.0)
    with pytest.raises(ValueError, match="unknown market"):
        await venue.fault(action="skip_seq", product="nope")
    with pytest.raises(ValueError, match="needs 'product'"):
        await venue.fault(action="skip_seq")
    with pytest.raises(ValueError, match="stall needs"):
        await venue.fault(action="stall")
