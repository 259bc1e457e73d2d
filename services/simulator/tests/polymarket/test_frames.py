"""Polymarket frames: hot templates equal the wire structs; shapes match real traffic."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssmd.simulator.polymarket import frames
from ssmd.simulator.polymarket.catalog import Catalog
from ssmd.simulator.polymarket.lifecycle import market_resolved_message, new_market_message
from ssmd.simulator.polymarket.markets import MarketState, binary_market_params
from ssmd.simulator.polymarket.symbols import market_ids
from ssmd.simulator.settings import SimulatorSettings

if TYPE_CHECKING:
    from conftest import FixtureLoader

pytestmark = pytest.mark.unit


def _decode(frame: bytes) -> dict[str, Any]:
    decoded: dict[str, Any] = msgspec.json.decode(frame)
    return decoded


def test_price_change_template_equals_the_struct() -> None:
    yes = (b"11", b"0.5", b"BUY", b"33", b"ab" * 20, b"0.5", b"0.51")
    no = (b"22", b"0.5", b"SELL", b"33", b"cd" * 20, b"0.49", b"0.5")
    frame = frames.price_change_pair(b"0xabc", yes, no, b"1729084877448")
    entries = [
        frames.PriceChange(
            asset_id=e[0].decode(),
            price=e[1].decode(),
            side=e[2].decode(),
            size=e[3].decode(),
            hash=e[4].decode(),
            best_bid=e[5].decode(),
            best_ask=e[6].decode(),
        )
        for e in (yes, no)
    ]
    message = frames.PriceChangeMsg(
        market="0xabc", price_changes=entries, timestamp="1729084877448"
    )
    assert frame == frames.encode(message)


def test_last_trade_and_best_bid_ask_templates_equal_the_structs() -> None:
    trade = frames.last_trade_price(
        market=b"0xm",
        asset_id=b"7",
        price=b"0.491",
        side=b"SELL",
        size=b"85.36",
        ts_ms=b"1724564136087",
        transaction_hash=b"0x" + b"f" * 64,
    )
    assert trade == frames.encode(
        frames.LastTradePriceMsg(
            market="0xm",
            asset_id="7",
            price="0.491",
            side="SELL",
            size="85.36",
            timestamp="1724564136087",
            transaction_hash="0x" + "f" * 64,
        )
    )
    top = frames.best_bid_ask(
        market=b"0xm", asset_id=b"7", best_bid=b"0.73", best_ask=b"0.77", spread=b"0.04", ts_ms=b"1"
    )
    assert top == frames.encode(
        frames.BestBidAskMsg(
            market="0xm",
            asset_id="7",
            best_bid="0.73",
            best_ask="0.77",
            spread="0.04",
            timestamp="1",
        )
    )


def _market(slug: str = "shape-test") -> MarketState:
    settings = SimulatorSettings.load(venue="polymarket")
    params = binary_market_params(settings, start_ticks=50, trade_rate_per_s=500.0)
    return MarketState(market_ids(slug), params, seed=3, now_ns=0)


def test_generated_messages_have_the_fields_of_real_traffic(fixture_json: FixtureLoader) -> None:
    market = _market()
    data: list[tuple[bytes, Any]] = []
    custom: list[tuple[bytes, Any]] = []
    for step in range(200):
        market.step(0.01, 20, 1_700_000_000_000 + step, data, custom)
    by_type: dict[str, dict[str, Any]] = {}
    for frame, _ in data + custom:
        message = _decode(frame)
        by_type.setdefault(message["event_type"], message)
    real_change = fixture_json("py_ws_messages/price_change_v2.json")
    change = by_type["price_change"]
    assert set(change) == set(real_change)
    assert set(change["price_changes"][0]) == set(real_change["price_changes"][0])
    real_trade = fixture_json("py_ws_messages/last_trade_price.json")
    assert set(by_type["last_trade_price"]) == set(real_trade) | {"transaction_hash"}
    real_top = fixture_json("rust_test_data/ws_market_best_bid_ask_msg.json")
    assert set(by_type["best_bid_ask"]) == set(real_top)
    real_book = fixture_json("captured/ws_book_snapshot_captured.json")
    book = _decode(market.book_message("yes", 1_700_000_000_500)[0])
    assert set(book) == set(real_book)
    assert len(book["hash"]) == len(real_book["hash"]) == 40
    for message in (change, by_type["last_trade_price"], book):
        assert message["timestamp"].isdigit()
        assert len(message["timestamp"]) == len(real_book["timestamp"])


def test_rare_messages_have_the_fields_of_real_traffic(fixture_json: FixtureLoader) -> None:
    catalog = Catalog()
    listing = catalog.add(_market("nvda-above-240"), created_ms=1)
    listing.result = "no"
    listing.status = "settled"
    new = _decode(new_market_message(listing, 5))
    real_new = fixture_json("rust_test_data/ws_market_new_market_msg.json")
    assert set(new) == set(real_new)
    assert set(new["event_message"]) == set(real_new["event_message"])
    assert new["assets_ids"] == new["clob_token_ids"] == list(listing.ids.token_ids)
    assert new["market"] == new["condition_id"] == listing.ids.condition_id
    resolved = _decode(market_resolved_message(listing, 6))
    assert set(resolved) == set(fixture_json("rust_test_data/ws_market_resolved_msg.json"))
    assert resolved["winning_asset_id"] == listing.ids.no_token_id
    assert resolved["winning_outcome"] == "No"
    tick = frames.encode(
        frames.TickSizeChangeMsg(
            market="m", asset_id="a", old_tick_size="0.01", new_tick_size="0.001", timestamp="1"
        )
    )
    assert set(_decode(tick)) == set(fixture_json("py_ws_messages/tick_size_change.json"))


@given(st.integers(min_value=0, max_value=10**12))
def test_size_text_is_the_exact_decimal_of_the_lots(lots: int) -> None:
    text = frames.size_text(lots)
    assert Decimal(text) == Decimal(lots) / 100
    assert text == format((Decimal(lots) / 100).normalize(), "f")


def test_prices_print_like_the_venue() -> None:
    assert frames.PRICE_TEXT[1] == "0.01"
    assert frames.PRICE_TEXT[50] == "0.5"
    assert frames.PRICE_TEXT[90] == "0.9"
    assert (frames.PRICE_TEXT[0], frames.PRICE_TEXT[100]) == ("0", "1")
    assert frames.mid_text(50, 51) == "0.505"


def _parses_as_a_good_message(frame: bytes) -> bool:
    try:
        message = msgspec.json.decode(frame)
    except msgspec.DecodeError:
        return False
    if not isinstance(message, dict) or "market" not in message:
        return False
    if message.get("event_type") == "price_change":
        return "price_changes" in message
    if message.get("event_type") == "book":
        try:
            return all(Decimal(level["price"]) >= 0 for level in message["bids"])
        except ArithmeticError:
            return False
    return True


def test_every_malformed_variant_is_rejected_by_a_careful_parser() -> None:
    rng = random.Random(1)
    variants = {frames.malformed_frame(rng, "0xabc", "123", 1) for _ in range(200)}
    assert len(variants) == 5
    for frame in variants:
        frame.decode()  # valid UTF-8: travels as a text frame
        assert not _parses_as_a_good_message(frame), frame
