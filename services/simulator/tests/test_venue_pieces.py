"""Frames, products, settings, ledger and determinism of the simulated venue."""

from __future__ import annotations

import struct
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from prometheus_client import CollectorRegistry

from ssmd.core.clock import SimulatedClock
from ssmd.core.errors import ConfigError
from ssmd.simulator.app import Simulator
from ssmd.simulator.connection import text_frames
from ssmd.simulator.kraken_futures import frames
from ssmd.simulator.kraken_futures.exchange import KrakenFuturesExchange
from ssmd.simulator.kraken_futures.product_state import Keyed
from ssmd.simulator.kraken_futures.products import product_spec
from ssmd.simulator.ledger import Ledger, Record
from ssmd.simulator.metrics import SimulatorMetrics
from ssmd.simulator.settings import SimulatorSettings
from ssmd.venues.kraken_futures.parse import KrakenFuturesParser
from ssmd.venues.kraken_futures.wire import BookMsg, TradeMsg

pytestmark = pytest.mark.unit


def test_hot_templates_equal_the_wire_structs() -> None:
    raw = msgspec.Raw
    book = frames.book(
        product=b"PF_XBTUSD", side=b"sell", seq=7, price=b"65000.5", qty=b"0.0123", ts_ms=1234
    )
    assert book == msgspec.json.encode(
        BookMsg(
            product_id="PF_XBTUSD",
            side="sell",
            seq=7,
            price=raw(b"65000.5"),
            qty=raw(b"0.0123"),
            timestamp=1234,
        )
    )
    trade = frames.trade(
        product=b"PF_ETHUSD", uid=b"u-1", side=b"buy", seq=9, ts_ms=5, qty=b"1.5", price=b"3200"
    )
    assert trade == msgspec.json.encode(
        TradeMsg(
            product_id="PF_ETHUSD",
            uid="u-1",
            side="buy",
            type="fill",
            seq=9,
            time=5,
            qty=raw(b"1.5"),
            price=raw(b"3200"),
        )
    )


def test_text_frames_follow_rfc6455_framing() -> None:
    payloads = [b"x" * 5, b"y" * 300, b"z" * 70_000]
    data = text_frames(payloads)
    assert data[:2] == bytes((0x81, 5))
    offset = 2 + 5
    assert struct.unpack("!BBH", data[offset : offset + 4]) == (0x81, 126, 300)
    offset += 4 + 300
    assert struct.unpack("!BBQ", data[offset : offset + 10]) == (0x81, 127, 70_000)
    assert len(data) == offset + 10 + 70_000


@pytest.mark.parametrize(
    ("symbol", "kind", "tick", "texts"),
    [
        ("PF_XBTUSD", (True, False), Decimal("0.5"), ("65000.5", "0.0123")),
        ("pi_ethusd", (True, True), Decimal("0.1"), ("6500.1", "123")),
        ("FF_SOLUSD_270326", (False, False), Decimal("0.01"), ("1300.05", "1.23")),
    ],
)
def test_symbols_decide_the_product(
    symbol: str, kind: tuple[bool, bool], tick: Decimal, texts: tuple[str, str]
) -> None:
    perpetual, inverse = kind
    price_text, qty_text = texts
    spec = product_spec(symbol)
    assert (spec.perpetual, spec.inverse, spec.tick_size) == (perpetual, inverse, tick)
    ticks = int(Decimal(price_text) / tick)
    assert spec.price_text(ticks) == price_text
    assert spec.qty_text(123) == qty_text
    assert (spec.maturity_ns is None) == perpetual


def test_unknown_symbol_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        product_spec("XBTUSD")
    with pytest.raises(ValueError, match="date"):
        product_spec("FF_XBTUSD")


def test_settings_validate_markets_and_document_every_field() -> None:
    settings = SimulatorSettings.load(markets=["pf_xbtusd", "FI_ETHUSD_270326"])
    assert settings.markets == ["PF_XBTUSD", "FI_ETHUSD_270326"]
    with pytest.raises(ConfigError, match="unsupported symbols"):
        SimulatorSettings.load(markets=["BTC-PERP"])
    with pytest.raises(ConfigError, match="twice"):
        SimulatorSettings.load(markets=["PF_XBTUSD", "pf_xbtusd"])
    with pytest.raises(ConfigError):
        SimulatorSettings.load(events_per_s=-1)
    assert all(description for _, _, description in SimulatorSettings.describe())


def test_ledger_is_bounded_and_keeps_counting() -> None:
    ledger = Ledger(max_entries=3)
    for seq in range(5):
        ledger.record(seq, 1, Record("data", "book", "X", seq))
    ledger.record_many(9, 2, [Record("data", "trade", "X", 10), Record("control", "info")])
    assert (ledger.total, ledger.dropped) == (7, 4)
    entries = ledger.entries()
    assert [e.index for e in entries] == [4, 5, 6]
    assert [e.index for e in ledger.entries(since=6)] == [6]
    assert [e.feed for e in ledger.entries(kind="data")] == ["book", "trade"]
    assert [e.seq for e in ledger.entries(connection=2, limit=1)] == [10]
    summary: dict[str, Any] = ledger.summary()
    assert summary["total"] == 7
    assert {g["feed"] for g in summary["groups"]} == {"book", "trade", "info"}


def _records(seed: int, steps: int) -> list[tuple[Any, ...]]:
    exchange = KrakenFuturesExchange(
        SimulatorSettings.load(seed=seed, events_per_s=5000.0),
        clock=SimulatedClock(1_000_000_000),
        ledger=Ledger(10),
        metrics=SimulatorMetrics(CollectorRegistry()),
    )
    out: list[Keyed] = []
    for step in range(steps):
        exchange.step(1_000_000_000 + step * 10_000_000, out)
    return [(key, record) for key, _, record in out]


def test_same_seed_gives_the_same_stream() -> None:
    first = _records(11, 60)
    assert len(first) > 2500
    assert first == _records(11, 60)
    assert first != _records(12, 60)


def test_generated_frames_all_parse() -> None:
    exchange = KrakenFuturesExchange(
        SimulatorSettings.load(events_per_s=5000.0),
        clock=SimulatedClock(1_000_000_000),
        ledger=Ledger(10),
        metrics=SimulatorMetrics(CollectorRegistry()),
    )
    out: list[Keyed] = []
    for step in range(30):
        exchange.step(1_000_000_000 + step * 10_000_000, out)
    for state in exchange.products.values():
        out.extend(state.tickers(1_000))
        frame, _ = state.book_snapshot(1_000)
        out.append(((("book", state.symbol)), frame, Record("data", "book_snapshot")))
    parser = KrakenFuturesParser()
    feeds = {parser.parse(frame, 0).feed for _, frame, _ in out}
    assert feeds == {"book", "trade", "ticker", "ticker_lite", "book_snapshot"}


def test_a_replay_file_must_exist_and_be_a_capture(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no capture file"):
        SimulatorSettings.load(replay_path=tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("this is not a capture\n")
    with pytest.raises(ConfigError, match="replay file"):
        Simulator(SimulatorSettings.load(replay_path=bad))
