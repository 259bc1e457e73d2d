"""Pieces of the simulated Kalshi: tickers, frames against the docs, books, auth, limits."""

from __future__ import annotations

import base64
import time
from collections import deque
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from ssmd.core.clock import SimulatedClock
from ssmd.core.errors import ConfigError
from ssmd.simulator.kalshi import frames
from ssmd.simulator.kalshi.auth import HandshakeVerifier, load_public_key
from ssmd.simulator.kalshi.catalog import event_date, new_event, new_market
from ssmd.simulator.kalshi.exchange import KalshiExchange
from ssmd.simulator.kalshi.lifecycle import created, transition
from ssmd.simulator.kalshi.markets import KalshiMarket, MarketEvent, MarketShape
from ssmd.simulator.kalshi.subscriptions import Session, TokenBucket
from ssmd.simulator.kalshi.symbols import (
    DEFAULT_MARKETS,
    event_ticker,
    normalize_markets,
    series_ticker,
)
from ssmd.simulator.ledger import Ledger, Record
from ssmd.simulator.metrics import SimulatorMetrics
from ssmd.simulator.settings import SimulatorSettings
from ssmd.simulator.venue import VenueExchange
from ssmd.testing.fixtures import venue_fixture
from ssmd.venues.kalshi.config import HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, WS_PATH

if TYPE_CHECKING:
    from conftest import Signer

pytestmark = pytest.mark.unit

START_NS = 1_790_000_000_000_000_000
SHAPE = MarketShape(
    trade_rate_per_s=200.0,
    depth_levels=25,
    volatility_annual=3.0,
    burst_multiplier=4.0,
    burst_probability_per_s=0.01,
    burst_mean_duration_s=20.0,
)


def _examples() -> dict[str, dict[str, Any]]:
    path = venue_fixture("kalshi/docs_asyncapi_examples_2026-04.jsonl")
    lines = [msgspec.json.decode(line) for line in path.read_bytes().splitlines() if line]
    return {line["example"]: line["payload"] for line in lines}


def _market(ticker: str = "KXHIGHNY-26NOV21-B53.5", seed: int = 1) -> KalshiMarket:
    event = new_event(ticker, START_NS)
    info = new_market(ticker, event, seed, START_NS)
    return KalshiMarket(
        info,
        SHAPE,
        seed=seed,
        start_ns=START_NS,
        recent_trades=deque(maxlen=100),
        ts_text=frames.SecondsText(),
    )


def _steps(market: KalshiMarket, steps: int, events: int = 40) -> list[MarketEvent]:
    out: list[MarketEvent] = []
    serial = 1
    for step in range(steps):
        serial = market.step(START_NS + (step + 1) * 10_000_000, events, out, serial)
    return out


# -- tickers ---------------------------------------------------------------------------------
def test_default_markets_are_valid_and_span_three_series_with_a_dot() -> None:
    assert normalize_markets(list(DEFAULT_MARKETS)) == list(DEFAULT_MARKETS)
    assert len({series_ticker(t) for t in DEFAULT_MARKETS}) >= 3
    assert any("." in t for t in DEFAULT_MARKETS)


def test_tickers_are_upper_cased_and_bad_ones_named() -> None:
    assert normalize_markets(["kxhighny-26nov21-b53.5"]) == ["KXHIGHNY-26NOV21-B53.5"]
    with pytest.raises(ValueError, match=r"KXBTCD-26NOV21'.*'BAD_ONE-X-Y'") as caught:
        normalize_markets(["KXBTCD-26NOV21", "KXFED-26DEC-T4.00", "bad_one-x-y"])
    assert "KXFED" not in str(caught.value)
    assert series_ticker("KXBTC-25APR30-T0915-B95000") == "KXBTC"
    assert event_ticker("KXBTC-25APR30-T0915-B95000") == "KXBTC-25APR30"


def test_settings_validate_kalshi_markets() -> None:
    settings = SimulatorSettings.load(venue="kalshi", markets=["kxfed-26dec-t4.00"])
    assert settings.markets == ["KXFED-26DEC-T4.00"]
    assert SimulatorSettings.load(venue="kalshi").markets == list(DEFAULT_MARKETS)
    with pytest.raises(ConfigError, match="unsupported market tickers"):
        SimulatorSettings.load(venue="kalshi", markets=["KXFED"])


def test_catalog_reads_dates_and_strikes_from_the_ticker() -> None:
    moment = event_date("26NOV2117")
    assert moment is not None
    assert (moment.year, moment.month, moment.day, moment.hour) == (2026, 11, 21, 17)
    assert event_date("2024") is None
    bucket = _market("KXHIGHNY-26NOV21-B53.5").info
    assert (bucket.strike_type, bucket.floor_strike, bucket.cap_strike) == ("between", "53", "54")
    threshold = _market("KXBTCD-26NOV2117-T99999.99").info
    assert (threshold.strike_type, threshold.floor_strike) == ("greater", "99999.99")
    assert threshold.event_ticker == "KXBTCD-26NOV2117"


# -- frames against the 2026-04 docs examples -----------------------------------------------------
def test_control_replies_equal_the_docs_examples() -> None:
    examples = _examples()
    cases = [
        (
            frames.SubscribedReply(id=1, msg=frames.ChannelSid("orderbook_delta", 1)),
            "subscriptionConfirmed",
        ),
        (frames.UnsubscribedReply(id=102, sid=2, seq=7), "unsubscriptionConfirmed"),
        (
            frames.UpdateOkReply(
                id=123,
                sid=456,
                seq=222,
                msg=frames.MarketTickers(["MARKET-1", "MARKET-2", "MARKET-3"]),
            ),
            "updateSuccess",
        ),
        (
            frames.ListOkReply(
                id=3,
                msg=[
                    frames.ChannelSid("orderbook_delta", 1),
                    frames.ChannelSid("ticker", 2),
                    frames.ChannelSid("fill", 3),
                ],
            ),
            "listSubscriptionsResponse",
        ),
    ]
    for reply, name in cases:
        assert frames.encode(reply) == msgspec.json.encode(examples[name])
    for code, name in [(7, "unknownSubscription"), (8, "unknownChannel"), (2, "paramsRequired")]:
        example = examples[name]
        text = example["msg"]["msg"]
        assert frames.error(example["id"], code, text) == msgspec.json.encode(example)


def test_data_frames_have_the_docs_fields() -> None:
    examples = _examples()
    market = _market()
    events = _steps(market, 30)
    delta = next(e for e in events if e[0] == "orderbook_delta")
    trade = next(e for e in events if e[0] == "trade")
    envelope = frames.Envelope(2)
    delta_frame = msgspec.json.decode(envelope.sequenced("orderbook_delta") % (3, delta[1]))
    trade_frame = msgspec.json.decode(envelope.sequenced("trade") % (4, trade[1]))
    quote = market.quote()
    ticker_frame = msgspec.json.decode(
        envelope.unsequenced("ticker") % market.ticker_body(quote, 1_000, b"1970")
    )
    snapshot = msgspec.json.decode(
        envelope.sequenced("orderbook_snapshot") % (1, market.snapshot_body())
    )
    for ours, name in [
        (delta_frame, "priceLevelUpdate"),
        (trade_frame, "tradeNotification"),
        (ticker_frame, "tickerUpdate"),
        (snapshot, "orderbookWithBothSides"),
    ]:
        example = examples[name]
        assert list(ours) == list(example), name
        assert set(ours["msg"]) == set(example["msg"]), name
    lifecycle = msgspec.json.decode(created(market.info, "Highest temperature in NYC")[1])
    documented = examples["marketCreated"]["msg"]
    assert set(lifecycle) == set(documented) - {"exchange_index"}
    assert set(lifecycle["additional_metadata"]) == set(documented["additional_metadata"]) | {
        "cap_strike"
    }


def test_prices_and_counts_print_as_fixed_point_text() -> None:
    assert frames.PRICE_TEXT[1] == "0.0100"
    assert frames.PRICE_TEXT[56] == "0.5600"
    assert frames.count_text(-5400) == ("-54.00", b"-54.00")
    assert frames.count_text(1207)[0] == "12.07"
    template = frames.delta_template(b"A-B-C", b"id")
    body = template % (b"0.9600", b"-54.00", b"yes", b"2022-11-22T20:44:01Z", 1669149841000)
    assert msgspec.json.decode(body)["delta_fp"] == "-54.00"


# -- the book mapping ------------------------------------------------------------------------
def _apply(book: dict[str, dict[str, Decimal]], msg: dict[str, Any]) -> None:
    side = book[msg["side"]]
    size = side.get(msg["price_dollars"], Decimal(0)) + Decimal(msg["delta_fp"])
    assert size >= 0, "a level never goes below zero"
    if size:
        side[msg["price_dollars"]] = size
    else:
        side.pop(msg["price_dollars"], None)


def _wire_book(market: KalshiMarket) -> dict[str, dict[str, Decimal]]:
    yes, no = market.wire_levels()
    return {
        "yes": {p: Decimal(c) for p, c in yes},
        "no": {p: Decimal(c) for p, c in no},
    }


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    steps=st.integers(1, 40),
    events=st.integers(1, 60),
)
def test_snapshot_plus_increments_reproduce_the_book(seed: int, steps: int, events: int) -> None:
    market = _market(seed=seed)
    book = _wire_book(market)  # the snapshot
    for event in _steps(market, steps, events):
        if event[0] == "orderbook_delta":
            _apply(book, msgspec.json.decode(event[1]))
    assert book == _wire_book(market)
    yes_bids = market.market.bids
    yes_asks = market.market.asks
    # NO bids are the YES asks at 1 - price, and the book is never crossed.
    assert {Decimal(p) for p in book["no"]} == {Decimal(100 - a) / 100 for a in yes_asks}
    assert max(yes_bids) < min(yes_asks)


def test_trades_price_both_outcomes_and_name_the_taker() -> None:
    market = _market()
    trades = [msgspec.json.decode(e[1]) for e in _steps(market, 200) if e[0] == "trade"]
    assert len(trades) > 20
    for trade in trades:
        assert Decimal(trade["yes_price_dollars"]) + Decimal(trade["no_price_dollars"]) == 1
        assert trade["taker_side"] == trade["taker_outcome_side"]
        expected_book_side = "bid" if trade["taker_outcome_side"] == "yes" else "ask"
        assert trade["taker_book_side"] == expected_book_side
        assert trade["ts"] * 1000 <= trade["ts_ms"] < (trade["ts"] + 1) * 1000
    assert {t["taker_side"] for t in trades} == {"yes", "no"}
    assert len({t["trade_id"] for t in trades}) == len(trades)


def test_the_exchange_is_a_venue_exchange() -> None:
    exchange: VenueExchange = KalshiExchange(  # mypy checks the protocol here
        SimulatorSettings.load(venue="kalshi"),
        clock=SimulatedClock(START_NS),
        ledger=Ledger(10),
        metrics=SimulatorMetrics(CollectorRegistry()),
    )
    assert (exchange.ws_path, exchange.mode) == (WS_PATH, "synthetic")
    assert exchange.product_ids == set(DEFAULT_MARKETS)
    assert exchange.book_state("kxfed-26dec-t4.00") is not None
    assert exchange.book_state("KXNOPE-26NOV21-T1") is None


def test_same_seed_same_stream_and_trade_ids() -> None:
    def records(seed: int) -> list[tuple[Any, ...]]:
        exchange = KalshiExchange(
            SimulatorSettings.load(venue="kalshi", seed=seed, events_per_s=5000.0),
            clock=SimulatedClock(START_NS),
            ledger=Ledger(10),
            metrics=SimulatorMetrics(CollectorRegistry()),
        )
        for step in range(50):
            exchange.flow.step(START_NS + (step + 1) * 10_000_000)
        return [(t.ticker, t.trade_id, t.count_fp) for t in exchange.recent_trades]

    first = records(7)
    assert len(first) > 50
    assert first == records(7)
    assert first != records(8)


def test_events_per_s_is_the_rate_of_market_events() -> None:
    registry = CollectorRegistry()
    metrics = SimulatorMetrics(registry)
    exchange = KalshiExchange(
        SimulatorSettings.load(venue="kalshi", events_per_s=20_000.0),
        clock=SimulatedClock(START_NS),
        ledger=Ledger(10),
        metrics=metrics,
    )
    for step in range(100):  # one simulated second
        exchange.flow.step(START_NS + (step + 1) * 10_000_000)
    generated = registry.get_sample_value("ssmd_simulator_events_generated_total")
    assert generated is not None
    assert 19_800 <= generated <= 20_200


def test_many_markets_step_only_where_events_fall() -> None:
    tickers = [f"KXSIM-26NOV21-T{n}" for n in range(2000)]
    exchange = KalshiExchange(
        SimulatorSettings.load(venue="kalshi", markets=tickers, events_per_s=1000.0),
        clock=SimulatedClock(START_NS),
        ledger=Ledger(10),
        metrics=SimulatorMetrics(CollectorRegistry()),
    )
    exchange.flow.step(START_NS + 10_000_000)  # 10 events: 10 markets at most
    assert sum(m.started for m in exchange.markets.values()) <= 10


def test_lifecycle_transitions_refuse_the_wrong_order() -> None:
    info = _market().info
    with pytest.raises(ValueError, match="determine needs closed"):
        transition(info, "determine", START_NS)
    transition(info, "close", START_NS)
    with pytest.raises(ValueError, match="result must be yes or no"):
        transition(info, "determine", START_NS, "maybe")
    event = msgspec.json.decode(transition(info, "determine", START_NS, "no")[1])
    assert (event["result"], event["settlement_value"]) == ("no", "0.0000")
    assert info.status == "determined"


# -- auth and limits -----------------------------------------------------------------------
def test_handshake_signatures_are_verified(
    rsa_keys: tuple[rsa.RSAPrivateKey, Path, Path], sign: Signer
) -> None:
    _, public_path, other_path = rsa_keys
    now_ms = time.time_ns() // 1_000_000
    verifier = HandshakeVerifier(load_public_key(public_path), max_age_s=30)
    good = sign(now_ms)
    now_ns = now_ms * 1_000_000
    assert verifier.check(good, "GET", WS_PATH, now_ns).signed
    assert not verifier.check({}, "GET", WS_PATH, now_ns).signed
    other = HandshakeVerifier(load_public_key(other_path), max_age_s=30)
    assert other.check(good, "GET", WS_PATH, now_ns).refusal == "invalid signature"
    wrong_path = verifier.check(good, "GET", "/trade-api/v2/markets", now_ns)
    assert wrong_path.refusal == "invalid signature"
    expired = verifier.check(good, "GET", WS_PATH, now_ns + 31_000_000_000)
    assert expired.refusal is not None
    assert "expired" in expired.refusal
    partial = {HEADER_KEY: "k", HEADER_TIMESTAMP: str(now_ms)}
    assert verifier.check(partial, "GET", WS_PATH, now_ns).refusal == (
        f"missing header {HEADER_SIGNATURE}"
    )
    garbage = {**good, HEADER_SIGNATURE: base64.b64encode(b"x").decode() + "!"}
    assert verifier.check(garbage, "GET", WS_PATH, now_ns).refusal == "invalid signature"
    unverified = HandshakeVerifier(None, max_age_s=30)
    assert unverified.check(good, "GET", WS_PATH, 0).signed


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(5, now_ns=0)
    assert [bucket.take(0) for _ in range(6)] == [True] * 5 + [False]
    assert bucket.take(200_000_000)  # 0.2 s later: one token back
    assert not bucket.take(200_000_000)


class _FullConnection:
    """A connection whose send queue is full."""

    id = 7
    aborted = False

    def send(self, batch: object) -> bool:
        return False

    def abort(self) -> None:
        self.aborted = True


def test_a_client_that_cannot_keep_up_is_dropped() -> None:
    ledger = Ledger(10)
    exchange = KalshiExchange(
        SimulatorSettings.load(venue="kalshi"),
        clock=SimulatedClock(START_NS),
        ledger=ledger,
        metrics=SimulatorMetrics(CollectorRegistry()),
    )
    conn = _FullConnection()
    session = Session(conn, signed=False, bucket=TokenBucket(1, 0))  # type: ignore[arg-type]
    exchange.send(session, [(b"{}", Record("data", "trade"))])
    assert conn.aborted
    (entry,) = ledger.entries(kind="fault", feed="slow_consumer")
    assert entry.connection == 7


def test_a_public_key_file_that_is_not_a_key_stops_start_up_naming_the_setting(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "not-a-key.pem"
    bad.write_text("hello")
    with pytest.raises(ConfigError, match="kalshi_public_key_path") as caught:
        load_public_key(bad)
    assert caught.value.fields == ("kalshi_public_key_path",)
