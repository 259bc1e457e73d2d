"""Simulator (synthetic markets) -> connector -> JetStream, with the simulator's faults."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ssmd.bus import DLQ_REASON, provision
from ssmd.connector.app import PUBLISHER_NAME, Connector
from ssmd.contracts.events import Gap, decode_event
from ssmd.contracts.subjects import dead_letter_stream, md_filter, md_stream, raw_stream
from ssmd.simulator.app import Simulator

if TYPE_CHECKING:
    from conftest import Kit

pytestmark = pytest.mark.integration

VENUE = "kraken_futures"
MARKETS = ["PF_XBTUSD", "PF_ETHUSD", "PF_SOLUSD", "FF_XBTUSD_270326"]


async def _books_match_the_simulator(kit: Kit, connector: Connector, simulator: Simulator) -> None:
    """Stall the simulator, let the connector drain, compare every book level by level."""
    await kit.http(f"{simulator.url}/control/faults", post={"action": "stall", "seconds": 30})
    for symbol in MARKETS:
        truth = await kit.http(f"{simulator.url}/control/book?product={symbol}")

        def caught_up(symbol: str = symbol, seq: int = truth["seq"]) -> bool:
            state = connector.books.get(f"{VENUE}:{symbol}")
            return state is not None and state.synced and state.seq == seq

        await kit.wait(caught_up, f"{symbol} book at seq {truth['seq']}")
        state = connector.books.get(f"{VENUE}:{symbol}")
        assert state is not None
        mine = state.as_json(None)
        assert mine["bids"] == truth["bids"]
        assert mine["asks"] == truth["asks"]


async def test_trades_quotes_and_books_reach_their_md_subjects(kit: Kit) -> None:
    simulator = await kit.simulator(events_per_s=2000, ticker_interval_s=0.2)
    connector = (await kit.connector(simulator)).connector  # markets discovered over REST
    assert sorted(connector.symbols) == sorted(MARKETS)
    wanted = {"trade", "quote", "book", "funding"}
    async with kit.reader(md_stream(kit.env, VENUE).name) as md:
        await kit.wait(
            lambda: {s.split(".")[3] for s in md.subjects()} >= wanted,
            "trades, quotes, books and funding",
        )
    for message in md.messages:
        event = decode_event(message.data)
        assert message.msg_id is not None
        channel = message.subject.split(".")[3]
        symbol = event.market.split(":")[1]
        assert message.subject == f"md.{kit.env}.{VENUE}.{channel}.0.{symbol}"
    assert connector.stats.gaps == {}
    await _books_match_the_simulator(kit, connector, simulator)


async def test_skipped_sequence_yields_one_gap_and_a_resnapshot_that_resyncs_the_book(
    kit: Kit,
) -> None:
    simulator = await kit.simulator(events_per_s=1000)
    connector = (await kit.connector(simulator, channels=["book"])).connector
    await kit.wait(lambda: bool(connector.stats.events), "first events")
    await kit.http(
        f"{simulator.url}/control/faults",
        post={"action": "skip_seq", "product": "PF_ETHUSD", "count": 3},
    )
    await kit.wait(lambda: connector.stats.resnapshots == 1, "a re-snapshot request")
    md = md_stream(kit.env, VENUE).name
    async with kit.reader(md, md_filter(kit.env, VENUE, "gap")) as gaps:
        await kit.wait(lambda: len(gaps.messages) >= 1, "the gap event")
    (message,) = gaps.messages
    gap = decode_event(message.data)
    assert isinstance(gap, Gap)
    assert gap.market == f"{VENUE}:PF_ETHUSD"
    assert gap.received_seq is not None
    assert gap.expected_seq is not None
    assert gap.received_seq - gap.expected_seq == 3
    await kit.wait(lambda: connector.books.is_synced(f"{VENUE}:PF_ETHUSD"), "the re-snapshot")
    assert connector.stats.gaps == {"seq": 1}
    await _books_match_the_simulator(kit, connector, simulator)


async def test_dropped_socket_reconnects_with_a_gap_per_market_and_fresh_books(kit: Kit) -> None:
    simulator = await kit.simulator(events_per_s=1000)
    connector = (await kit.connector(simulator, channels=["book", "trade"])).connector
    await kit.http(f"{simulator.url}/control/faults", post={"action": "drop_connections"})
    await kit.wait(lambda: connector.stats.sessions == 2, "a second session")
    await kit.wait(
        lambda: all(connector.books.is_synced(f"{VENUE}:{s}") for s in MARKETS),
        "fresh snapshots",
    )
    md = md_stream(kit.env, VENUE).name
    async with kit.reader(md, md_filter(kit.env, VENUE, "gap")) as gaps:
        await kit.wait(lambda: len(gaps.messages) == len(MARKETS), "one gap per market")
    events = [decode_event(m.data) for m in gaps.messages]
    assert sorted(e.market for e in events) == sorted(f"{VENUE}:{s}" for s in MARKETS)
    assert {(e.channel, e.reason) for e in events if isinstance(e, Gap)} == {("all", "reconnect")}
    assert connector.stats.reconnects == 1
    await _books_match_the_simulator(kit, connector, simulator)


async def test_malformed_venue_frames_land_in_the_dlq_and_the_session_survives(kit: Kit) -> None:
    simulator = await kit.simulator(events_per_s=500)
    connector = (await kit.connector(simulator, channels=["book"], markets=["PF_XBTUSD"])).connector
    answer = await kit.http(f"{simulator.url}/control/faults", post={"action": "malformed"})
    frame = answer["frame"].encode()
    async with kit.reader(dead_letter_stream(kit.env).name) as dlq:
        await kit.wait(lambda: len(dlq.messages) == 1, "the dead letter")
    (letter,) = dlq.messages
    assert letter.data == frame
    assert letter.subject == f"dlq.{kit.env}.connector.{VENUE}"
    assert letter.headers[DLQ_REASON]
    before = connector.stats.frames
    await kit.wait(lambda: connector.stats.frames > before + 10, "more frames")
    assert connector.stats.sessions == 1
    assert connector.stats.malformed_frames == 1
    async with kit.reader(raw_stream(kit.env, VENUE).name) as raw:
        await kit.wait(lambda: any(m.data == frame for m in raw.messages), "the raw record")


async def test_a_silent_socket_is_restarted_by_the_watchdog(kit: Kit) -> None:
    simulator = await kit.simulator(events_per_s=500)
    running = await kit.connector(
        simulator, channels=["book"], markets=["PF_XBTUSD"], watchdog_s=0.5
    )
    connector = running.connector
    await kit.http(f"{simulator.url}/control/faults", post={"action": "stall", "seconds": 1.5})
    await kit.wait(lambda: connector.stats.watchdog_restarts >= 1, "a watchdog restart")
    await kit.wait(lambda: connector.stats.sessions >= 2, "a new session")
    await kit.wait(lambda: connector.books.is_synced(f"{VENUE}:PF_XBTUSD"), "a fresh snapshot")


async def test_publishes_jetstream_did_not_store_are_marked_with_gaps(kit: Kit) -> None:
    simulator = await kit.simulator(events_per_s=500)
    connector = (await kit.connector(simulator, channels=["book"], markets=["PF_XBTUSD"])).connector
    assert connector.bus is not None
    failures = connector.bus.metrics.publisher(PUBLISHER_NAME)
    md_spec = connector.stream_specs()[0]
    await kit.bus.js.delete_stream(md_spec.name)  # events now reach no stream: not stored
    await kit.wait(lambda: failures.failed_permanent > 0, "failed publishes")
    await provision(kit.bus, streams=[md_spec])
    async with kit.reader(md_spec.name, md_filter(kit.env, VENUE, "gap")) as gaps:
        await kit.wait(lambda: len(gaps.messages) >= 1, "the publish_failed gap")
    gap = decode_event(gaps.messages[0].data)
    assert isinstance(gap, Gap)
    assert (gap.market, gap.channel, gap.reason) == (f"{VENUE}:PF_XBTUSD", "all", "publish_failed")
    assert connector.stats.sessions == 1  # the venue socket was never in question
