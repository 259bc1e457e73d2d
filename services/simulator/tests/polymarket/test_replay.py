"""Replay of Polymarket market-channel captures (built here from the real fixtures)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from ssmd.venues.capture import jsonl_line, write_jsonl_capture

if TYPE_CHECKING:
    from conftest import Client, ClientFactory, FixtureLoader, Venue, VenueFactory

pytestmark = pytest.mark.integration

T0_NS = 1_729_084_877_000_000_000
PARTS = {
    "book": "py_ws_messages/book.json",
    "trade": "py_ws_messages/last_trade_price.json",
    "old_change": "py_ws_messages/price_change.json",
    "change": "py_ws_messages/price_change_v2.json",
    "tick": "py_ws_messages/tick_size_change.json",
    "captured": "captured/ws_book_snapshot_captured.json",
    "top": "rust_test_data/ws_market_best_bid_ask_msg.json",
    "new": "rust_test_data/ws_market_new_market_msg.json",
    "resolved": "rust_test_data/ws_market_resolved_msg.json",
}


class Capture:
    """A capture file of fixture messages, one frame per line (line numbers from 1)."""

    def __init__(self, directory: Path, fixture_json: FixtureLoader) -> None:
        self.msg = {name: fixture_json(path) for name, path in PARTS.items()}
        encode = msgspec.json.encode
        self.frames: list[bytes] = [
            encode(self.msg["captured"]),  # 1
            encode(self.msg["book"]),  # 2
            encode([self.msg["trade"], self.msg["tick"]]),  # 3: an array of two assets
            encode(self.msg["change"]),  # 4
            b"PONG",  # 5: control text, not replayed
            b"{not json",  # 6: malformed, left out
            encode(self.msg["old_change"]),  # 7
            encode(self.msg["top"]),  # 8: custom feature
            encode([self.msg["new"], self.msg["resolved"]]),  # 9: custom, to every custom client
        ]
        self.path = directory / "polymarket.jsonl"
        write_jsonl_capture(
            self.path, [(T0_NS + n * 1_000_000, frame) for n, frame in enumerate(self.frames)]
        )
        with self.path.open("ab") as handle:  # the client's request, and a marketless message
            handle.write(jsonl_line(T0_NS, b'{"assets_ids":[],"type":"market"}', "out"))
            handle.write(jsonl_line(T0_NS + 10**7, b'{"event_type":"heartbeat"}'))

    def asset(self, name: str) -> str:
        message = self.msg[name]
        return str(message.get("asset_id") or message["price_changes"][0]["asset_id"])


@pytest.fixture
def capture(tmp_path: Path, fixture_json: FixtureLoader) -> Capture:
    return Capture(tmp_path, fixture_json)


async def _replay(start_venue: VenueFactory, capture: Capture, **overrides: Any) -> Venue:
    options: dict[str, Any] = {"replay_speed": 0.0, "replay_start_delay_s": 0.05, **overrides}
    return await start_venue(replay_path=capture.path, **options)


async def _all(client: Client) -> list[str]:
    texts = await client.quiet(0.5)
    assert texts, "nothing replayed"
    return texts


async def test_subscribed_assets_get_their_frames_byte_for_byte_in_capture_order(
    start_venue: VenueFactory, connect: ClientFactory, capture: Capture
) -> None:
    venue = await _replay(start_venue, capture)
    assert venue.exchange.mode == "replay"
    client = await connect(venue)
    assets = [capture.asset(n) for n in ("captured", "book", "trade", "tick", "change", "top")]
    await client.subscribe(assets)
    texts = await _all(client)
    # The `book` fixture and the old-format change share an asset: both come.
    expected = [capture.frames[n] for n in (0, 1, 2, 3, 6)]
    assert [text.encode() for text in texts] == expected
    entries = venue.ledger.entries(kind="data")
    assert [e.feed for e in entries] == [
        "book",
        "book",
        "last_trade_price",
        "tick_size_change",
        "price_change",
        "price_change",
    ]
    trade = capture.msg["trade"]
    assert (entries[2].product, entries[2].price, entries[2].qty) == (
        trade["market"],
        trade["price"],
        trade["size"],
    )
    change = capture.msg["change"]["price_changes"][0]
    assert (entries[4].price, entries[4].qty) == (change["price"], change["size"])
    assert venue.exchange.product_ids == {m["market"] for m in capture.msg.values()}


async def test_an_array_is_cut_down_to_the_messages_of_subscribed_assets(
    start_venue: VenueFactory, connect: ClientFactory, capture: Capture
) -> None:
    venue = await _replay(start_venue, capture)
    client = await connect(venue)
    await client.subscribe([capture.asset("tick"), "not-in-the-capture"])
    texts = await _all(client)
    assert [text.encode() for text in texts] == [
        b"[" + msgspec.json.encode(capture.msg["tick"]) + b"]"
    ]
    [unknown] = venue.ledger.entries(kind="control", feed="unknown_asset")
    assert unknown.detail == "not-in-the-capture"


async def test_custom_feature_messages_are_replayed_only_with_the_flag(
    start_venue: VenueFactory, connect: ClientFactory, capture: Capture
) -> None:
    venue = await _replay(start_venue, capture)
    plain, custom = await connect(venue), await connect(venue)
    top = capture.asset("top")
    await plain.subscribe([top, capture.asset("change")])
    await custom.subscribe([top], custom=True)
    assert [t.encode() for t in await _all(custom)] == [capture.frames[7], capture.frames[8]]
    assert [t.encode() for t in await _all(plain)] == [capture.frames[3]]


async def test_replay_options_skip_lines_and_skip_seq_leave_frames_out(
    start_venue: VenueFactory, connect: ClientFactory, capture: Capture
) -> None:
    venue = await _replay(start_venue, capture)
    state = venue.exchange.replay_state()
    assert (state["enabled"], state["frames"], state["speed"]) == (True, 8, 0.0)
    venue.exchange.set_replay(None, [1])
    assert venue.exchange.replay_state()["skip_lines"] == [1]
    with pytest.raises(ValueError, match="speed"):
        venue.exchange.set_replay(-1.0, None)
    client = await connect(venue)
    await client.send("PING")
    assert await client.receive_text() == "PONG"
    result = await venue.fault(action="skip_seq", product=capture.msg["change"]["market"])
    assert result["skipped_price_changes"] == 1
    await client.subscribe([capture.asset(n) for n in ("captured", "book", "change")])
    assert [t.encode() for t in await _all(client)] == [capture.frames[1], capture.frames[6]]
    assert venue.exchange.book_state(capture.msg["book"]["market"]) is None
    with pytest.raises(ValueError, match="unknown market"):
        await venue.fault(action="skip_seq", product="0xnot-in-the-capture")
    with pytest.raises(ValueError, match="replay"):
        venue.lifecycle("some-market", "create")


async def test_a_cryptofeed_format_capture_replays_the_same(
    start_venue: VenueFactory, connect: ClientFactory, capture: Capture, tmp_path: Path
) -> None:
    path = tmp_path / "POLYMARKET.ws.txt"
    lines = [f"{1729084877 + n}.5: {frame.decode()}" for n, frame in enumerate(capture.frames)]
    path.write_text("\n".join(lines) + "\n")
    venue = await start_venue(replay_path=path, replay_speed=0.0, replay_start_delay_s=0.05)
    client = await connect(venue)
    await client.subscribe([capture.asset("change")])
    assert [t.encode() for t in await _all(client)] == [capture.frames[3]]


async def test_synthetic_mode_has_no_replay_to_change(start_venue: VenueFactory) -> None:
    venue = await start_venue(events_per_s=0.0)
    assert venue.exchange.replay_state()["enabled"] is False
    with pytest.raises(ValueError, match="not in replay mode"):
        venue.exchange.set_replay(2.0, None)


async def test_replay_is_paced_by_the_capture_clock_and_waits_out_a_stall(
    start_venue: VenueFactory, connect: ClientFactory, capture: Capture
) -> None:
    # The frames of interest are 3 ms apart in the capture: at speed 0.01, 300 ms apart.
    venue = await _replay(start_venue, capture, replay_speed=0.01)
    client = await connect(venue)
    await venue.fault(action="stall", seconds=0.3)
    started = asyncio.get_running_loop().time()
    await client.subscribe([capture.asset("captured")])
    await client.subscribe([capture.asset("change")], operation="subscribe")
    first = await client.receive_text()
    waited_s = asyncio.get_running_loop().time() - started
    second = await client.receive_text()
    gap_s = asyncio.get_running_loop().time() - started - waited_s
    assert [first, second] == [capture.frames[0].decode(), capture.frames[3].decode()]
    assert waited_s >= 0.25  # the stall
    assert gap_s >= 0.15  # the capture's 3 ms, slowed down 100 times
