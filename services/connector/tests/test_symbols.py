"""A venue symbol full of subject syntax ('.', '*', '>', spaces) stays in its own subject.

The simulator only simulates well-formed product ids, so this replays a crafted capture
(JSONL) with such a product beside a normal one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import pytest

from ssmd.connector.app import PUBLISHER_NAME
from ssmd.contracts.events import decode_event
from ssmd.contracts.subjects import md_stream, parse_md_subject
from ssmd.contracts.symbols import encode_token
from ssmd.venues.capture import write_jsonl_capture

if TYPE_CHECKING:
    from conftest import Kit

pytestmark = pytest.mark.integration

VENUE = "kraken_futures"
NASTY = "PF_A.B*C> D.>"
PLAIN = "PF_XBTUSD"


def _frames(product: str, base_ms: int) -> list[bytes]:
    encode = msgspec.json.encode
    frames = [
        encode(
            {
                "feed": "book_snapshot",
                "product_id": product,
                "timestamp": base_ms,
                "seq": 1,
                "tickSize": None,
                "bids": [{"price": 99.5, "qty": 1}],
                "asks": [{"price": 100.5, "qty": 2}],
            }
        )
    ]
    frames.extend(
        encode(
            {
                "feed": "book",
                "product_id": product,
                "side": "buy",
                "seq": seq,
                "price": 99 - seq,
                "qty": seq,
                "timestamp": base_ms + seq,
            }
        )
        for seq in range(2, 6)
    )
    frames.append(
        encode(
            {
                "feed": "trade",
                "product_id": product,
                "uid": f"trade-{product}",
                "side": "sell",
                "type": "fill",
                "seq": 7,
                "time": base_ms + 10,
                "qty": 1,
                "price": 99.5,
            }
        )
    )
    frames.append(encode({"feed": "ticker_lite", "product_id": product, "bid": 99.5, "ask": 100}))
    return frames


async def test_a_symbol_with_subject_syntax_flows_to_its_own_subject_only(
    kit: Kit, tmp_path: Path
) -> None:
    capture = tmp_path / "nasty.jsonl"
    frames = _frames(NASTY, 1_700_000_000_000) + _frames(PLAIN, 1_700_000_000_000)
    write_jsonl_capture(capture, [(1_000_000_000 + i, f) for i, f in enumerate(frames)])
    simulator = await kit.simulator(replay_path=capture, replay_speed=0.0)
    connector = (
        await kit.connector(
            simulator, markets=[NASTY, PLAIN], channels=["book", "trade", "ticker_lite"]
        )
    ).connector
    per_market = 5 + 1 + 1  # book snapshot and deltas, trade, quote
    async with kit.reader(md_stream(kit.env, VENUE).name) as md:
        await kit.wait(lambda: len(md.messages) == 2 * per_market, "every event of both markets")
    nasty_id = f"{VENUE}:{NASTY}"
    nasty_token = encode_token(NASTY)
    assert nasty_token == "PF_A~2EB~2AC~3E~20D~2E~3E"
    seen: dict[str, set[str]] = {}
    for message in md.messages:
        event = decode_event(message.data)
        parsed = parse_md_subject(message.subject)
        assert parsed.market_id == event.market  # each event on its own market's subject
        tokens = message.subject.split(".")
        assert len(tokens) == 6
        assert not {"*", ">"} & set(tokens)
        assert " " not in message.subject
        seen.setdefault(event.market, set()).add(tokens[3])
    assert seen == {
        nasty_id: {"book", "trade", "quote"},
        f"{VENUE}:{PLAIN}": {"book", "trade", "quote"},
    }
    nasty_subjects = {m.subject for m in md.messages if m.subject.endswith("." + nasty_token)}
    assert len([m for m in md.messages if m.subject in nasty_subjects]) == per_market
    state = connector.books.get(nasty_id)
    assert state is not None
    assert state.synced
    assert state.seq == 5
    # Every publish went to a subject some stream captures: nothing strayed elsewhere.
    assert connector.bus is not None
    stats = connector.bus.metrics.publisher(PUBLISHER_NAME)
    await kit.wait(lambda: stats.in_flight == 0, "every ack")
    assert (stats.failed_temporary, stats.failed_permanent) == (0, 0)
