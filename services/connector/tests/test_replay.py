"""The 2021 Kraken Futures capture, replayed simulator -> connector -> JetStream.

The reference books are built here from the capture with plain dicts (stdlib ``json``,
exact ``Decimal``), independently of ``ssmd.venues``; a listener on the connector's books
compares its book with the reference after every snapshot and every delta.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ssmd.connector.app import Connector
from ssmd.connector.books import MarketBook
from ssmd.contracts.events import Gap, Trade, decode_event, event_msg_id
from ssmd.contracts.subjects import md_filter, md_stream, raw_stream
from ssmd.venues.kraken_futures.parse import KrakenFuturesParser

if TYPE_CHECKING:
    from conftest import Kit

pytestmark = pytest.mark.integration

VENUE = "kraken_futures"
FEEDS = ["book", "trade", "ticker_lite"]
Side = dict[Decimal, Decimal]


@dataclass
class BookOp:
    line_no: int
    seq: int
    snapshot: bool
    levels: list[tuple[str, Decimal, Decimal]]  # (side, price, qty); qty 0 removes


@dataclass
class ReferenceBook:
    """One product's book from the capture, advanced op by op to the seq asked for."""

    ops: list[BookOp]
    position: int = 0
    bids: Side = field(default_factory=dict)
    asks: Side = field(default_factory=dict)

    def advance_to(self, seq: int) -> None:
        """Apply every op up to `seq`: the venue's truth, lines a replay left out included."""
        while self.position < len(self.ops) and self.ops[self.position].seq <= seq:
            op = self.ops[self.position]
            self.position += 1
            if op.snapshot:
                self.bids, self.asks = {}, {}
            for side, price, qty in op.levels:
                book = self.bids if side == "bid" else self.asks
                if qty == 0:
                    book.pop(price, None)
                else:
                    book[price] = qty


def capture_book_ops(path: Path) -> dict[str, list[BookOp]]:
    """Every book snapshot and delta of the capture, per product, in capture order."""
    ops: dict[str, list[BookOp]] = {}
    with path.open("rb") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line[:1].isdigit():
                continue  # requests, connection lines
            message: dict[str, Any] = json.loads(line.split(b": ", 1)[1], parse_float=Decimal)
            feed = None if "event" in message else message.get("feed")
            if feed == "book_snapshot":
                levels = [("bid", Decimal(b["price"]), Decimal(b["qty"])) for b in message["bids"]]
                levels += [("ask", Decimal(a["price"]), Decimal(a["qty"])) for a in message["asks"]]
                op = BookOp(line_no, message["seq"], True, levels)
            elif feed == "book":
                side = "bid" if message["side"] == "buy" else "ask"
                level = (side, Decimal(message["price"]), Decimal(message["qty"]))
                op = BookOp(line_no, message["seq"], False, [level])
            else:
                continue
            ops.setdefault(message["product_id"].upper(), []).append(op)
    return ops


class BookChecker:
    """Compares the connector's book with the reference after every change it applies."""

    def __init__(self, ops: dict[str, list[BookOp]]) -> None:
        self.references = {f"{VENUE}:{p}": ReferenceBook(list(o)) for p, o in ops.items()}
        self.checks: Counter[str] = Counter()
        self.mismatches: list[tuple[str, int | None]] = []

    def __call__(self, market: str, state: MarketBook) -> None:
        assert state.seq is not None
        reference = self.references[market]
        reference.advance_to(state.seq)
        self.checks[market] += 1
        if state.book.as_dicts() != (reference.bids, reference.asks):
            self.mismatches.append((market, state.seq))

    def attach(self, connector: Connector) -> None:
        connector.books.add_listener(self)


def _count_by_channel(subjects: list[str]) -> Counter[str]:
    return Counter(subject.split(".")[3] for subject in subjects)


async def test_replayed_capture_books_match_after_every_delta_with_no_gap(
    kit: Kit, ws_capture: Path
) -> None:
    ops = capture_book_ops(ws_capture)
    n_book = sum(len(o) for o in ops.values())
    assert n_book == 10 + 7014
    checker = BookChecker(ops)
    simulator = await kit.simulator(replay_path=ws_capture, replay_speed=0.0)
    running = await kit.connector(simulator, channels=FEEDS, setup=checker.attach)
    connector = running.connector
    assert len(connector.markets) == 10
    await kit.wait(lambda: sum(checker.checks.values()) == n_book, "every book change", 60)
    assert checker.mismatches == []
    assert all(checker.checks[m] == len(r.ops) for m, r in checker.references.items())
    # JetStream holds every event once: books, quotes, and trades (a trade in both the
    # subscription's trade_snapshot and the live feed is one event: stored once).
    parser = KrakenFuturesParser()
    trade_ids = {
        event_msg_id(event)
        for record in _capture_frames(ws_capture)
        for event in parser.parse(record, 0).events
        if isinstance(event, Trade)
    }
    expected = {"book": n_book, "quote": 107, "trade": len(trade_ids)}
    async with kit.reader(md_stream(kit.env, VENUE).name) as md:
        await kit.wait(lambda: _count_by_channel(md.subjects()) == expected, f"md {expected}", 60)
    assert connector.stats.gaps == {}
    assert connector.stats.malformed_frames == 0
    raw_name = raw_stream(kit.env, VENUE).name
    async with kit.reader(raw_name) as raw:
        await kit.wait(lambda: len(raw.messages) >= 7014 + 10 + 10 + 3, "raw frames", 60)


def _capture_frames(path: Path) -> list[bytes]:
    with path.open("rb") as handle:
        return [line.split(b": ", 1)[1] for line in handle if line[:1].isdigit()]


def _a_delta_line(ops: dict[str, list[BookOp]]) -> tuple[str, BookOp]:
    """A delta well inside the capture, of the product with the most book traffic."""
    product = max(ops, key=lambda p: len(ops[p]))
    return product, ops[product][len(ops[product]) // 2]


async def _replay_with_a_line_removed(
    kit: Kit, ws_capture: Path, checker: BookChecker, line_no: int, speed: float = 0.0
) -> Connector:
    simulator = await kit.simulator(replay_path=ws_capture, replay_speed=speed)
    await kit.http(f"{simulator.url}/control/replay", post={"skip_lines": [line_no]})
    running = await kit.connector(simulator, channels=FEEDS, setup=checker.attach)
    return running.connector


async def test_replayed_capture_missing_one_delta_yields_exactly_one_gap(
    kit: Kit, ws_capture: Path
) -> None:
    ops = capture_book_ops(ws_capture)
    product, removed = _a_delta_line(ops)
    market = f"{VENUE}:{product}"
    checker = BookChecker(ops)
    connector = await _replay_with_a_line_removed(kit, ws_capture, checker, removed.line_no)
    await kit.wait(lambda: connector.stats.resnapshots == 1, "the re-snapshot request")
    others = {m: len(r.ops) for m, r in checker.references.items() if m != market}
    await kit.wait(
        lambda: all(checker.checks[m] == n for m, n in others.items()), "every other book", 60
    )
    assert checker.mismatches == []
    md = md_stream(kit.env, VENUE).name
    async with kit.reader(md, md_filter(kit.env, VENUE, "gap")) as gaps:
        await kit.wait(lambda: len(gaps.messages) >= 1, "the gap")
    (message,) = gaps.messages
    gap = decode_event(message.data)
    assert isinstance(gap, Gap)
    assert (gap.market, gap.expected_seq, gap.received_seq) == (
        market,
        removed.seq,
        removed.seq + 1,
    )
    assert connector.stats.gaps == {"seq": 1}


async def test_replayed_capture_resnapshot_after_a_gap_brings_the_book_back(
    kit: Kit, ws_capture: Path
) -> None:
    ops = capture_book_ops(ws_capture)
    product, removed = _a_delta_line(ops)
    market = f"{VENUE}:{product}"
    checker = BookChecker(ops)
    # 5x (the capture's 31 s in about 6 s): the gap and the re-snapshot come mid-replay, so
    # the fresh snapshot is the venue's book at that point in the capture and the deltas
    # after it are checked too; at full speed it would come after the capture's last delta.
    connector = await _replay_with_a_line_removed(
        kit, ws_capture, checker, removed.line_no, speed=5.0
    )
    await kit.wait(lambda: connector.stats.resnapshots == 1, "the re-snapshot request")
    await kit.wait(lambda: connector.books.is_synced(market), "the fresh snapshot", 5)
    final = len(ops[product])
    assert checker.references[market].position < final, "re-synced after the last delta"
    await kit.wait(lambda: checker.references[market].position == final, "the last delta", 30)
    assert checker.mismatches == []
