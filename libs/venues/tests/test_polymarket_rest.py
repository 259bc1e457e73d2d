"""Gamma and CLOB REST bodies into GammaMarket, ClobMarket, books and fee rates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ssmd.contracts.events import PriceLevel
from ssmd.venues.errors import MalformedFrame, VenueRejectedError
from ssmd.venues.polymarket import rest
from ssmd.venues.polymarket.tokens import MarketTokens, TokenIndex

pytestmark = pytest.mark.unit

RECV = 1_700_000_000_123_456_789
CID = "0x" + "cd" * 32
YES, NO = "101", "202"


def _gamma(**fields: Any) -> dict[str, Any]:
    market = {
        "id": "7",
        "question": "Q?",
        "conditionId": CID,
        "questionID": "0x01",
        "slug": "q",
        "endDate": "2026-03-12T09:25:00Z",
        "outcomes": '["Yes", "No"]',
        "outcomePrices": '["0.50", "0.5"]',
        "clobTokenIds": json.dumps([YES, NO]),
        "enableOrderBook": True,
        "orderPriceMinTickSize": 0.001,
        "orderMinSize": 5,
        "negRisk": False,
    }
    return market | fields


def _body(value: Any) -> bytes:
    return json.dumps(value).encode()


def test_gamma_json_encoded_string_fields_are_decoded_and_numbers_made_exact() -> None:
    market = rest.parse_gamma_market(_body(_gamma()))
    assert (market.outcomes, market.outcome_prices, market.clob_token_ids) == (
        ("Yes", "No"),
        ("0.5", "0.5"),
        (YES, NO),
    )
    assert (market.tick_size, market.min_order_size, market.question_id) == ("0.001", "5", "0x01")
    assert market.end_ts_ns == 1_773_307_500_000_000_000  # 2026-03-12T09:25:00Z
    assert market.tokens() == MarketTokens(CID, "0x01", YES, NO, slug="q", tick_size="0.001")


def test_gamma_numbers_given_as_strings_read_the_same() -> None:
    market = rest.parse_gamma_market(
        _body(_gamma(orderPriceMinTickSize="0.010", orderMinSize="5.0"))
    )
    assert (market.tick_size, market.min_order_size) == ("0.01", "5")


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"enableOrderBook": False}, "no order book"),
        ({"enableOrderBook": None}, "legacy AMM market"),
        ({"marketType": "scalar", "outcomes": '["Long", "Short"]'}, "scalar"),
        (
            {"outcomes": '["A", "B", "C"]', "clobTokenIds": json.dumps([YES, NO, "303"])},
            "three outcomes",
        ),
        ({"clobTokenIds": '["", ""]'}, "empty token ids"),
        ({"conditionId": "0xabc123"}, "not a condition id"),
    ],
)
def test_gamma_markets_that_are_not_binary_with_a_book_have_no_tokens(
    fields: dict[str, Any], why: str
) -> None:
    assert rest.parse_gamma_market(_body(_gamma(**fields))).tokens() is None, why


def test_require_order_book_false_maps_markets_without_a_book() -> None:
    market = rest.parse_gamma_market(_body(_gamma(enableOrderBook=False)))
    assert market.tokens(require_order_book=False) is not None


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"clobTokenIds": "[not json"}, "clobTokenIds: not a JSON-encoded string array"),
        ({"outcomePrices": '["0.5", "2"]'}, "outcomePrices: price outside [0, 1]"),
        ({"endDate": "tomorrow"}, "endDate: not an ISO 8601 time"),
        ({"orderMinSize": "five"}, "orderMinSize: not a decimal number"),
        ({"active": "yes"}, "Expected `bool | null`, got `str`"),
    ],
)
def test_bad_gamma_fields_raise_malformed_naming_the_field(
    fields: dict[str, Any], reason: str
) -> None:
    with pytest.raises(MalformedFrame) as caught:
        rest.parse_gamma_market(_body(_gamma(**fields)))
    assert reason in caught.value.reason


def test_clob_pages_end_at_the_lte_cursor() -> None:
    page = {"data": [], "next_cursor": "MTAw", "limit": 100, "count": 0}
    assert rest.parse_clob_markets_page(_body(page)) == ([], "MTAw")
    assert rest.parse_clob_markets_page(_body(page | {"next_cursor": "LTE="})) == ([], None)
    assert rest.parse_clob_markets_page(_body(page | {"next_cursor": ""})) == ([], None)


def test_clob_market_tokens_follow_the_outcome_names() -> None:
    body = {
        "condition_id": CID,
        "question_id": "0x02",
        "market_slug": "q",
        "enable_order_book": True,
        "minimum_tick_size": 0.01,
        "minimum_order_size": "15",
        "neg_risk": True,
        "end_date_iso": "2024-11-05T00:00:00Z",
        "tokens": [
            {"token_id": NO, "outcome": "No", "price": 0.5135, "winner": False},
            {"token_id": YES, "outcome": "Yes", "price": 0.4865, "winner": False},
        ],
    }
    market = rest.parse_clob_market(_body(body))
    assert market.tokens() == MarketTokens(
        CID, "0x02", YES, NO, slug="q", tick_size="0.01", neg_risk=True
    )
    assert [t.price for t in market.outcome_tokens] == ["0.5135", "0.4865"]
    assert market.min_order_size == "15"
    assert market.end_ts_ns == 1_730_764_800_000_000_000


def test_an_error_body_is_a_venue_rejection() -> None:
    with pytest.raises(VenueRejectedError, match="market not found"):
        rest.parse_clob_market(b'{"error": "market not found"}')


@pytest.mark.parametrize("body", [b"<html>", b"[]", b'{"condition_id": 5}'])
def test_a_body_of_the_wrong_shape_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedFrame):
        rest.parse_clob_market(body)


def _book_body() -> dict[str, Any]:
    return {
        "market": CID,
        "asset_id": NO,
        "timestamp": "1703875200000",
        "hash": "0xabc",
        "bids": [{"price": "0.20", "size": "5"}, {"price": "0.25", "size": "7"}],
        "asks": [{"price": "0.40", "size": "1"}, {"price": "0.30", "size": "2"}],
        "tick_size": "0.01",
        "min_order_size": "5",
        "neg_risk": False,
    }


def test_token_book_is_sorted_best_first() -> None:
    book = rest.parse_token_book(_body(_book_body()))
    assert book.bids == [PriceLevel("0.25", "7"), PriceLevel("0.2", "5")]
    assert book.asks == [PriceLevel("0.3", "2"), PriceLevel("0.4", "1")]
    assert (book.tick_size, book.min_order_size, book.hash, book.ts_event_ns) == (
        "0.01",
        "5",
        "0xabc",
        1_703_875_200_000_000_000,
    )


def test_book_of_the_no_token_is_mirrored_into_the_yes_book() -> None:
    index = TokenIndex([MarketTokens(CID, None, YES, NO)])
    snapshot = rest.parse_book(_body(_book_body()), RECV, index)
    # YES bids = 1 - NO asks, YES asks = 1 - NO bids, best first.
    assert snapshot.bids == [PriceLevel("0.7", "2"), PriceLevel("0.6", "1")]
    assert snapshot.asks == [PriceLevel("0.75", "7"), PriceLevel("0.8", "5")]
    assert (snapshot.market, snapshot.ts_recv_ns) == (f"polymarket:{CID}", RECV)
    with pytest.raises(ValueError, match="not in the token index"):
        rest.parse_book(_body(_book_body()), RECV, TokenIndex())


def test_fee_rate_as_string_or_number(venue_fixtures: Path) -> None:
    assert rest.parse_fee_rate(b'{"base_fee": 150}') == "150"
    assert rest.parse_fee_rate(b'{"base_fee": "0"}') == "0"
    with pytest.raises(MalformedFrame, match="base_fee"):
        rest.parse_fee_rate(b'{"base_fee": null}')


def test_gamma_event_markets_of_a_neg_risk_event_are_binary_markets(venue_fixtures: Path) -> None:
    body = (
        venue_fixtures / "polymarket/nautilus_trader/rust_test_data/gamma_event.json"
    ).read_bytes()
    [event] = rest.parse_gamma_events(body)
    assert event.neg_risk
    assert event.neg_risk_market_id is not None
    raw = json.loads(body)[0]["markets"]
    for market, wire in zip(event.markets, raw, strict=True):
        tokens = market.tokens()
        assert tokens is not None
        assert tokens.neg_risk
        assert [tokens.yes_token_id, tokens.no_token_id] == json.loads(wire["clobTokenIds"])
        assert json.loads(wire["outcomes"]) == ["Yes", "No"]
