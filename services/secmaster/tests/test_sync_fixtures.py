"""Real venue REST bodies (shared/fixtures/venues) through the sync's parsers into records.

Each body goes through the same function the sync calls on a page, and each record is
checked against the raw JSON it came from (VENUES.md 1.10, 2.5, 3.5 for the mapping).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from ssmd.contracts.reference import decode_reference
from ssmd.secmaster.model import MarketRecord, decode_record
from ssmd.secmaster.sync.kalshi import market_record, market_records
from ssmd.secmaster.sync.kraken_futures import instrument_records
from ssmd.secmaster.sync.polymarket import (
    clob_market_record,
    clob_page_records,
    gamma_event_records,
    gamma_market_record,
    lifecycle,
)
from ssmd.testing.fixtures import venue_fixture
from ssmd.venues.errors import MalformedFrame
from ssmd.venues.kalshi.rest import parse_market, parse_markets
from ssmd.venues.polymarket.rest import (
    parse_clob_market,
    parse_gamma_event,
    parse_gamma_events,
    parse_gamma_market,
    parse_gamma_markets,
)

PM = "polymarket/nautilus_trader"


def body(relative: str) -> bytes:
    try:
        path: Path = venue_fixture(relative)
    except FileNotFoundError as exc:
        pytest.fail(str(exc))
    return path.read_bytes()


def raw(relative: str) -> Any:
    return msgspec.json.decode(body(relative))


def iso_ns(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(Decimal(str(moment.timestamp())) * 1_000_000_000)


def round_trips(record: MarketRecord) -> None:
    """What the store keeps and publishes of a record decodes back to it."""
    assert decode_record(record.to_json()) == record
    reference = record.reference(change="created", version=1, outbox_id=1, ts_ns=0)
    assert decode_reference(msgspec.json.encode(reference)) == reference


# -- Kalshi ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "relative",
    [
        "kalshi/ccxt_static_response/get_markets_two_tickers.json",
        "kalshi/nautilus_trader_pr3659/http_markets.json",
    ],
)
def test_kalshi_markets_pages_become_open_binary_records(relative: str) -> None:
    records, skipped = market_records(parse_markets(body(relative)))

    wires = raw(relative)["markets"]
    assert skipped == []
    assert [r.symbol for r in records] == [w["ticker"] for w in wires]
    for record, wire in zip(records, wires, strict=True):
        assert record.market == f"kalshi:{wire['ticker']}"
        assert (record.kind, record.status) == ("binary", "open")  # every fixture is active
        assert record.title == wire["title"]
        assert record.event == wire["event_ticker"]
        assert record.series == wire["event_ticker"].split("-")[0]
        assert record.close_ts_ns == iso_ns(wire["close_time"])
        assert record.open_ts_ns == iso_ns(wire["open_time"])
        assert record.contract_size == "1"  # notional_value_dollars "1.0000"
        assert record.result is None
        assert record.tokens == []
        round_trips(record)


def test_kalshi_tick_size_is_the_finest_price_range_step() -> None:
    records, _ = market_records(
        parse_markets(body("kalshi/ccxt_static_response/get_markets_two_tickers.json"))
    )
    wires = raw("kalshi/ccxt_static_response/get_markets_two_tickers.json")["markets"]

    assert [w["price_level_structure"] for w in wires] == ["linear_cent", "deci_cent"]
    assert [r.tick_size for r in records] == ["0.01", "0.001"]
    assert [r.attributes["price_level_structure"] for r in records] == [
        "linear_cent",
        "deci_cent",
    ]
    assert records[0].attributes["settlement_timer_s"] == str(
        int(wires[0]["settlement_timer_seconds"])
    )
    assert records[0].expiry_ts_ns == iso_ns(wires[0]["expected_expiration_time"])


def test_kalshi_single_market_body_maps_like_a_page_row() -> None:
    relative = "kalshi/ccxt_static_response/get_market_KXELONMARS-99.json"
    record = market_record(parse_market(body(relative)))
    page, _ = market_records(
        parse_markets(body("kalshi/ccxt_static_response/get_markets_two_tickers.json"))
    )

    assert record.symbol == raw(relative)["market"]["ticker"] == "KXELONMARS-99"
    assert record.status == "open"
    assert record == next(r for r in page if r.symbol == "KXELONMARS-99")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("initialized", "unopened"),
        ("active", "open"),
        ("inactive", "paused"),
        ("closed", "closed"),
        ("determined", "determined"),
        ("disputed", "determined"),
        ("amended", "determined"),
        ("finalized", "settled"),
    ],
)
def test_kalshi_statuses_map_to_the_lifecycle(status: str, expected: str) -> None:
    wire = raw("kalshi/nautilus_trader_pr3659/http_markets.json")
    wire["markets"][0]["status"] = status
    wire["markets"][0]["result"] = "yes" if expected in ("determined", "settled") else ""
    records, _ = market_records(parse_markets(msgspec.json.encode(wire)))

    assert records[0].status == expected
    assert records[0].result == ("yes" if expected in ("determined", "settled") else None)


def test_a_kalshi_market_of_unknown_status_is_skipped_with_its_reason() -> None:
    wire = raw("kalshi/nautilus_trader_pr3659/http_markets.json")
    wire["markets"].append({**wire["markets"][0], "ticker": "KXBTC-25MAR15-B1", "status": "odd"})
    records, skipped = market_records(parse_markets(msgspec.json.encode(wire)))

    assert [r.symbol for r in records] == ["KXBTC-25MAR15-B100000"]
    assert skipped == ["market KXBTC-25MAR15-B1: unknown status 'odd'"]
    with pytest.raises(MalformedFrame, match="unknown status"):
        market_record(parse_markets(msgspec.json.encode(wire)).items[1])


# -- Kraken Futures --------------------------------------------------------------------------
def test_kraken_instruments_become_perpetual_records_with_funding_and_margin() -> None:
    relative = "kraken_futures/nautilus_trader/http_futures_instruments.json"
    records, skipped = instrument_records(body(relative))

    wires = raw(relative)["instruments"]
    assert skipped == []
    assert [r.symbol for r in records] == [w["symbol"].upper() for w in wires]
    for record, wire in zip(records, wires, strict=True):
        assert (record.kind, record.status) == ("perpetual", "open")
        assert Decimal(record.tick_size or "") == Decimal(str(wire["tickSize"]))
        assert Decimal(record.contract_size or "") == Decimal(str(wire["contractSize"]))
        assert record.open_ts_ns == iso_ns(wire["openingDate"])
        assert record.attributes["type"] == wire["type"]
        assert record.attributes["funding_rate_coefficient"] == str(wire["fundingRateCoefficient"])
        margin = wire["marginLevels"][0]
        assert Decimal(record.attributes["initial_margin"]) == Decimal(str(margin["initialMargin"]))
        assert Decimal(record.attributes["maintenance_margin"]) == Decimal(
            str(margin["maintenanceMargin"])
        )
        assert record.expiry_ts_ns is None
        round_trips(record)
    assert next(r for r in records if r.symbol == "PF_PEPEUSD").tick_size == "0.0000000001"


def test_kraken_instrument_without_fee_schedule_loads() -> None:
    relative = "kraken_futures/nautilus_trader/http_futures_instrument_no_fee_schedule.json"
    records, _ = instrument_records(body(relative))

    assert [r.symbol for r in records] == ["PF_ETHUSD"]
    assert "fee_schedule_uid" not in records[0].attributes


def test_kraken_2021_capture_skips_indices_and_dates_fixed_maturities() -> None:
    line = body("kraken_futures/cryptofeed/KRAKEN_FUTURES.0.rest_capture.txt").splitlines()[0]
    url, _, rest = line.partition(b" -> ")
    assert url.endswith(b"/instruments")
    response = rest.partition(b": ")[2]
    wires = msgspec.json.decode(response)["instruments"]

    records, skipped = instrument_records(response)

    indices = [w for w in wires if "index" in w["type"]]
    assert len(skipped) == len(indices) > 0
    assert len(records) + len(skipped) == len(wires)
    by_symbol = {r.symbol: r for r in records}
    for wire in wires:
        if "index" in wire["type"]:
            continue
        record = by_symbol[wire["symbol"].upper()]
        if "lastTradingTime" in wire:
            assert record.kind == "fixed_maturity"
            assert record.expiry_ts_ns == record.close_ts_ns == iso_ns(wire["lastTradingTime"])
        else:
            assert record.kind == "perpetual"
            assert record.expiry_ts_ns is None
        assert record.status == ("open" if wire["tradeable"] else "closed")
    assert {r.kind for r in records} == {"perpetual", "fixed_maturity"}


# -- Polymarket ------------------------------------------------------------------------------
def expected_polymarket(wire: dict[str, Any]) -> tuple[str, str | None]:
    """VENUES.md 3.5; the result names the winning leg (YES = "Yes", else the first)."""
    tokens = wire["tokens"]
    yes = 1 if [t["outcome"].lower() for t in tokens] == ["no", "yes"] else 0
    winners = [index for index, token in enumerate(tokens) if token.get("winner")]
    if winners:
        return "settled", "yes" if winners[0] == yes else "no"
    if wire["closed"]:
        return "closed", None
    return ("open", None) if wire["active"] and wire["accepting_orders"] else ("paused", None)


def test_polymarket_clob_page_maps_statuses_tokens_and_skips_non_binary() -> None:
    relative = f"{PM}/py_http_responses/markets.json"
    records, cursor, skipped = clob_page_records(body(relative))

    page = raw(relative)
    assert cursor == page["next_cursor"]
    binary = [w for w in page["data"] if all(t["token_id"] for t in w["tokens"])]
    assert len(skipped) == len(page["data"]) - len(binary) == 1
    assert [r.symbol for r in records] == [w["condition_id"] for w in binary]
    statuses = set()
    for record, wire in zip(records, binary, strict=True):
        assert (record.status, record.result) == expected_polymarket(wire)
        statuses.add(record.status)
        assert [(t.token_id, t.outcome, t.is_yes) for t in record.tokens] == [
            (wire["tokens"][0]["token_id"], wire["tokens"][0]["outcome"], True),
            (wire["tokens"][1]["token_id"], wire["tokens"][1]["outcome"], False),
        ]
        assert record.title == wire["question"]
        assert record.attributes["slug"] == wire["market_slug"]
        assert Decimal(record.tick_size or "") == Decimal(str(wire["minimum_tick_size"]))
        round_trips(record)
    assert statuses == {"settled", "closed", "open"}


@pytest.mark.parametrize(
    ("relative", "status"),
    [
        (f"{PM}/py_http_responses/market.json", "open"),
        (f"{PM}/rust_test_data/clob_market_closed_binary_accepting_false.json", "settled"),
        (f"{PM}/rust_test_data/clob_market_closed_binary_accepting_true.json", "settled"),
    ],
)
def test_polymarket_clob_market_bodies_map_to_records(relative: str, status: str) -> None:
    record = clob_market_record(parse_clob_market(body(relative)))

    wire = raw(relative)
    assert record is not None
    assert record.market == f"polymarket:{wire['condition_id']}"
    assert (record.status, record.result) == expected_polymarket(wire)
    assert record.status == status
    assert record.event == (wire.get("neg_risk_market_id") or None)
    assert len(record.tokens) == 2
    round_trips(record)


@pytest.mark.parametrize(
    ("name", "status", "yes_outcome"),
    [
        ("gamma_market.json", "open", "Up"),
        ("gamma_market_closed_binary_accepting_false.json", "closed", "Yes"),
        ("gamma_market_closed_binary_accepting_true.json", "closed", "Yes"),
        ("gamma_market_closed_zero_zero_legacy.json", "closed", "Yes"),
        ("gamma_market_sports_market_map_handicap.json", "closed", None),
        ("gamma_market_sports_market_money_line.json", "closed", None),
    ],
)
def test_polymarket_gamma_markets_map_to_records(
    name: str, status: str, yes_outcome: str | None
) -> None:
    relative = f"{PM}/rust_test_data/{name}"
    record = gamma_market_record(parse_gamma_market(body(relative)))

    wire = raw(relative)
    outcomes = msgspec.json.decode(wire["outcomes"])
    token_ids = msgspec.json.decode(wire["clobTokenIds"])
    assert record is not None
    assert record.symbol == wire["conditionId"].lower()
    assert record.status == status
    assert record.title == wire["question"]
    # The first outcome is YES (team names, Up/Down), per ssmd.venues.polymarket.tokens.
    assert [(t.token_id, t.outcome, t.is_yes) for t in record.tokens] == [
        (token_ids[0], outcomes[0], True),
        (token_ids[1], outcomes[1], False),
    ]
    assert yes_outcome in (None, outcomes[0])
    round_trips(record)


def test_polymarket_gamma_bodies_without_a_token_pair_are_skipped() -> None:
    legacy = parse_gamma_market(
        body(f"{PM}/rust_test_data/gamma_market_closed_nonbinary_legacy.json")
    )
    assert gamma_market_record(legacy) is None
    # Partial bodies (no outcomes, or made-up condition ids) parse but form no pair.
    slug = parse_gamma_market(body(f"{PM}/py_http_responses/market_slug.json"))
    assert gamma_market_record(slug) is None
    listed = parse_gamma_markets(body(f"{PM}/py_http_responses/markets_list.json"))
    assert len(listed) == 3
    assert [gamma_market_record(m) for m in listed] == [None, None, None]


def test_polymarket_gamma_events_give_their_markets_the_neg_risk_group() -> None:
    relative = f"{PM}/rust_test_data/gamma_event.json"
    events = parse_gamma_events(body(relative))
    wire = raw(relative)[0]

    records, skipped = gamma_event_records(events[0])

    assert len(records) + len(skipped) == len(wire["markets"])
    assert records
    for record in records:
        assert record.event == wire["negRiskMarketID"]
        assert record.attributes["gamma_event_id"] == wire["id"]
    for relative_list in (f"{PM}/py_http_responses/events_list.json",):
        assert [e.id for e in parse_gamma_events(body(relative_list))] == [
            e["id"] for e in raw(relative_list)
        ]
    single = parse_gamma_event(body(f"{PM}/py_http_responses/event.json"))
    found, missing = gamma_event_records(single)
    assert len(found) + len(missing) == len(single.markets)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"closed": False, "active": True, "accepting_orders": True, "winner": None}, "open"),
        ({"closed": False, "active": True, "accepting_orders": False, "winner": None}, "paused"),
        ({"closed": False, "active": False, "accepting_orders": True, "winner": None}, "paused"),
        ({"closed": True, "active": True, "accepting_orders": False, "winner": None}, "closed"),
        ({"closed": True, "active": True, "accepting_orders": False, "winner": "no"}, "settled"),
    ],
)
def test_polymarket_flags_map_to_the_lifecycle(flags: dict[str, Any], expected: str) -> None:
    status, result = lifecycle(**flags)
    assert status == expected
    assert result == flags["winner"]
