"""Canonical events: round trips, the JSON shape on the wire, and rejection of bad payloads."""

from __future__ import annotations

import json
import typing
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssmd.contracts.events import (
    CHANNEL_OF,
    MD_CHANNELS,
    BookDelta,
    BookSnapshot,
    ContractError,
    FundingRate,
    Gap,
    LevelChange,
    MarketEvent,
    MarketStatus,
    PriceLevel,
    Quote,
    Trade,
    channel_of,
    decode_event,
    encode_event,
    event_msg_id,
)

pytestmark = pytest.mark.unit

ENVELOPE: dict[str, Any] = {
    "venue": "kalshi",
    "market": "kalshi:KXHIGHNY-25NOV21-B57.5",
    "ts_event_ns": 1_763_700_000_000_000_000,
    "ts_recv_ns": 1_763_700_000_000_500_000,
    "seq": 42,
}

SAMPLES: list[MarketEvent] = [
    Trade(**ENVELOPE, price="0.52", size="10", side="buy", trade_id="t-1"),
    Trade(**ENVELOPE, price="0.52", size="10"),
    Quote(**ENVELOPE, bid_price="0.51", bid_size="100", ask_price="0.53", ask_size="7"),
    Quote(**ENVELOPE, last_price="0.5"),
    BookSnapshot(
        **ENVELOPE,
        bids=[PriceLevel("0.51", "100"), PriceLevel("0.50", "3")],
        asks=[PriceLevel("0.53", "7")],
    ),
    BookSnapshot(**ENVELOPE, bids=[], asks=[]),
    BookDelta(
        **ENVELOPE,
        changes=[
            LevelChange(side="bid", price="0.51", size="0"),
            LevelChange(side="ask", price="0.54", size="12.5"),
        ],
    ),
    MarketStatus(**ENVELOPE, status="settled", result="yes"),
    MarketStatus(**ENVELOPE, status="paused"),
    FundingRate(
        **{**ENVELOPE, "venue": "kraken_futures", "market": "kraken_futures:PF_XBTUSD"},
        rate="-0.0000125",
        relative_rate="0.0001",
        next_funding_ts_ns=1_763_703_600_000_000_000,
    ),
    Gap(**ENVELOPE, channel="book", reason="reconnect", expected_seq=43, received_seq=57),
]

VALID_TRADE: dict[str, Any] = {
    "type": "trade",
    **ENVELOPE,
    "price": "0.52",
    "size": "10",
    "side": "sell",
    "trade_id": None,
}


@pytest.mark.parametrize("event", SAMPLES, ids=lambda event: type(event).__name__)
def test_every_event_round_trips_through_json(event: MarketEvent) -> None:
    decoded = decode_event(encode_event(event))
    assert decoded == event
    assert type(decoded) is type(event)


def test_union_and_channel_map_cover_the_same_event_types() -> None:
    assert set(typing.get_args(MarketEvent)) == set(CHANNEL_OF)
    assert {type(event) for event in SAMPLES} == set(CHANNEL_OF)
    assert MD_CHANNELS == ("trade", "quote", "book", "status", "funding", "gap")


@pytest.mark.parametrize(
    ("event_type", "tag", "channel"),
    [
        (Trade, "trade", "trade"),
        (Quote, "quote", "quote"),
        (BookSnapshot, "book_snapshot", "book"),
        (BookDelta, "book_delta", "book"),
        (MarketStatus, "market_status", "status"),
        (FundingRate, "funding_rate", "funding"),
        (Gap, "gap", "gap"),
    ],
)
def test_each_event_has_its_type_tag_and_channel(
    event_type: type[MarketEvent], tag: str, channel: str
) -> None:
    assert CHANNEL_OF[event_type] == channel
    event = next(sample for sample in SAMPLES if type(sample) is event_type)
    assert json.loads(encode_event(event))["type"] == tag
    assert channel_of(event) == channel


def test_wire_json_keeps_prices_as_strings_and_levels_as_pairs() -> None:
    snapshot = next(event for event in SAMPLES if isinstance(event, BookSnapshot))
    wire = json.loads(encode_event(snapshot))
    assert wire["bids"] == [["0.51", "100"], ["0.50", "3"]]
    assert wire["ts_event_ns"] == ENVELOPE["ts_event_ns"]
    trade = json.loads(encode_event(SAMPLES[0]))
    assert trade["price"] == "0.52"
    assert trade["seq"] == 42


def test_events_are_frozen() -> None:
    with pytest.raises(AttributeError):
        SAMPLES[0].price = "1"  # type: ignore[misc,union-attr]


def test_constructing_an_event_for_another_venue_market_fails() -> None:
    with pytest.raises(ValueError, match="does not belong to venue"):
        Trade(**{**ENVELOPE, "market": "polymarket:123"}, price="0.5", size="1")


def _with(**changes: Any) -> bytes:
    payload = {**VALID_TRADE, **changes}
    return json.dumps({key: value for key, value in payload.items() if value is not ...}).encode()


def test_valid_trade_payload_decodes() -> None:
    assert isinstance(decode_event(_with()), Trade)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (_with(price=...), "missing required field `price`"),
        (_with(ts_event_ns=...), "missing required field `ts_event_ns`"),
        (_with(ts_event_ns="1"), r"\$.ts_event_ns"),
        (_with(ts_recv_ns=-1), r"\$.ts_recv_ns"),
        (_with(price=0.52), r"\$.price"),  # a float price is a contract violation
        (_with(price="1e-5"), r"\$.price"),  # exponent notation
        (_with(price="0.5\n"), r"\$.price"),
        (_with(size="-1"), r"\$.size"),
        (_with(side="long"), r"\$.side"),
        (_with(seq="42"), r"\$.seq"),
        (_with(venue="Kalshi"), r"\$.venue"),
        (_with(market="polymarket:1"), "does not belong to venue"),
        (_with(type="trades"), "Invalid value 'trades'"),
        (_with(type=...), "missing required field `type`"),
        (b"[]", "Expected `object`"),
        (b'{"type": "trade",', "malformed"),
        (b"", "malformed"),
    ],
)
def test_decode_event_rejects_bad_payloads_with_contract_error(
    payload: bytes, message: str
) -> None:
    with pytest.raises(ContractError, match=message) as raised:
        decode_event(payload)
    assert isinstance(raised.value, ValueError)
    assert isinstance(raised.value.__cause__, msgspec.DecodeError)


def test_decode_event_rejects_bad_nested_levels() -> None:
    snapshot = json.loads(encode_event(SAMPLES[4]))
    snapshot["bids"] = [["0.5"]]
    with pytest.raises(ContractError, match=r"\$.bids\[0\]"):
        decode_event(json.dumps(snapshot).encode())
    delta = json.loads(encode_event(SAMPLES[6]))
    delta["changes"][0]["side"] = "buy"
    with pytest.raises(ContractError, match=r"\$.changes\[0\].side"):
        decode_event(json.dumps(delta).encode())


def test_decode_event_ignores_unknown_fields_for_forward_compatibility() -> None:
    assert decode_event(_with(added_in_a_later_version=1)) == decode_event(_with())


def test_msg_id_ignores_receive_time_only() -> None:
    trade = SAMPLES[0]
    assert isinstance(trade, Trade)
    again = msgspec.structs.replace(trade, ts_recv_ns=trade.ts_recv_ns + 10**9)
    assert event_msg_id(again) == event_msg_id(trade)
    assert len(event_msg_id(trade)) == 32
    int(event_msg_id(trade), 16)
    for change in ({"seq": 43}, {"price": "0.53"}, {"ts_event_ns": 1}, {"trade_id": "t-2"}):
        assert event_msg_id(msgspec.structs.replace(trade, **change)) != event_msg_id(trade)


def test_msg_id_differs_between_event_types_with_same_envelope() -> None:
    ids = {event_msg_id(event) for event in SAMPLES}
    assert len(ids) == len(SAMPLES)


decimals = st.from_regex(r"[0-9]{1,12}(\.[0-9]{1,12})?", fullmatch=True)


trades = st.builds(
    Trade,
    venue=st.just("polymarket"),
    market=st.text().map(lambda symbol: f"polymarket:{symbol}"),
    ts_event_ns=st.integers(min_value=0, max_value=2**63),
    ts_recv_ns=st.integers(min_value=0, max_value=2**63),
    seq=st.none() | st.integers(min_value=0, max_value=2**63),
    price=decimals,
    size=decimals,
    side=st.sampled_from(["buy", "sell", None]),
    trade_id=st.none() | st.text(),
)


@given(trades)
def test_any_valid_trade_round_trips(trade: Trade) -> None:
    assert decode_event(encode_event(trade)) == trade
