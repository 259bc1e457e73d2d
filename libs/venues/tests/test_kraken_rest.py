"""REST bodies: instruments (current and the 2021 capture), tickers, order book, funding."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssmd.contracts.events import BookSnapshot, FundingRate, PriceLevel, Quote
from ssmd.core.errors import should_retry
from ssmd.venues.capture import read_capture
from ssmd.venues.errors import MalformedFrame, VenueBusyError, VenueRejectedError
from ssmd.venues.kraken_futures.rest import (
    Instrument,
    iso_to_ns,
    parse_historical_funding_rates,
    parse_instruments,
    parse_orderbook,
    parse_tickers,
)

pytestmark = pytest.mark.unit

RECV = 1_800_000_000_000_000_000


def _nt(kraken_dir: Path, name: str) -> bytes:
    return (kraken_dir / "nautilus_trader" / name).read_bytes()


def test_current_instruments_parse(kraken_dir: Path) -> None:
    instruments = {
        i.symbol: i for i in parse_instruments(_nt(kraken_dir, "http_futures_instruments.json"))
    }
    assert set(instruments) == {"PI_XBTUSD", "PF_ETHUSD", "PF_PEPEUSD", "PF_AAPLxUSD".upper()}
    eth = instruments["PF_ETHUSD"]
    assert eth == Instrument(
        symbol="PF_ETHUSD",
        market="kraken_futures:PF_ETHUSD",
        type="flexible_futures",
        kind="perpetual",
        tradeable=True,
        tick_size="0.1",
        contract_size="1",
        base="ETH",
        quote="USD",
        pair="ETH:USD",
        opening_ts_ns=iso_to_ns("2022-03-22T13:18:45Z"),
        funding_rate_coefficient="24",
        max_relative_funding_rate="0.0025",
        contract_value_trade_precision="3",
        post_only=False,
        fee_schedule_uid="723888f7-0a8e-4183-8648-f920a22339e3",
        isin="GB00BQ84K502",
    )
    assert instruments["PF_PEPEUSD"].tick_size == "0.0000000001"
    assert instruments["PF_PEPEUSD"].contract_value_trade_precision == "-3"
    assert instruments["PI_XBTUSD"].type == "futures_inverse"


def test_instrument_without_fee_schedule_parses(kraken_dir: Path) -> None:
    (eth,) = parse_instruments(_nt(kraken_dir, "http_futures_instrument_no_fee_schedule.json"))
    assert eth.fee_schedule_uid is None
    assert eth.kind == "perpetual"


def test_2021_rest_capture_instruments_parse(kraken_dir: Path) -> None:
    path = kraken_dir / "cryptofeed" / "KRAKEN_FUTURES.0.rest_capture.txt"
    (answer,) = [r for r in read_capture(path) if r.direction == "response"]
    instruments = {i.symbol: i for i in parse_instruments(answer.frame)}
    assert len(instruments) == 27
    kinds = [i.kind for i in instruments.values()]
    assert (kinds.count("perpetual"), kinds.count("fixed_maturity"), kinds.count("index")) == (
        5,
        12,
        10,
    )
    future = instruments["FI_XBTUSD_210924"]
    assert future.kind == "fixed_maturity"
    assert future.last_trading_ts_ns == 1632495600_000000000  # 2021-09-24T15:00:00Z
    assert (future.tick_size, future.contract_size, future.base, future.quote) == (
        "0.5",
        "1",
        "XBT",
        "USD",
    )
    perp = instruments["PI_XBTUSD"]
    assert (perp.kind, perp.funding_rate_coefficient, perp.max_relative_funding_rate) == (
        "perpetual",
        "8",
        "0.001",
    )
    assert perp.market == "kraken_futures:PI_XBTUSD"
    index = instruments["IN_XBTUSD"]
    assert (index.kind, index.tradeable, index.tick_size) == ("index", False, None)


def test_tickers_become_quotes_and_funding_rates(kraken_dir: Path) -> None:
    events = parse_tickers(_nt(kraken_dir, "http_futures_tickers.json"), RECV)
    server_ns = iso_to_ns("2025-11-17T00:34:37.524Z")
    assert events[0] == Quote(
        venue="kraken_futures",
        market="kraken_futures:PI_XBTUSD",
        ts_event_ns=server_ns,
        ts_recv_ns=RECV,
        bid_price="91415",
        bid_size="4960",
        ask_price="91490.5",
        ask_size="5020",
        last_price="91415",
    )
    assert events[1] == FundingRate(
        venue="kraken_futures",
        market="kraken_futures:PI_XBTUSD",
        ts_event_ns=server_ns,
        ts_recv_ns=RECV,
        rate="-0.000000003995839963",
    )
    assert [type(e).__name__ for e in events] == ["Quote", "FundingRate", "Quote", "FundingRate"]
    assert isinstance(events[3], FundingRate)
    assert events[3].rate == "0.000015"


def test_orderbook_becomes_snapshot(kraken_dir: Path) -> None:
    snapshot = parse_orderbook(_nt(kraken_dir, "http_futures_orderbook.json"), "pf_xbtusd", RECV)
    assert snapshot == BookSnapshot(
        venue="kraken_futures",
        market="kraken_futures:PF_XBTUSD",
        ts_event_ns=iso_to_ns("2025-07-11T12:00:00.000Z"),
        ts_recv_ns=RECV,
        bids=[
            PriceLevel("105900", "0.5"),
            PriceLevel("105850", "1.2"),
            PriceLevel("105800", "0.8"),
        ],
        asks=[
            PriceLevel("105950", "0.3"),
            PriceLevel("106000", "0.7"),
            PriceLevel("106050", "1.1"),
        ],
    )


def test_historical_funding_rates(kraken_dir: Path) -> None:
    rates = parse_historical_funding_rates(
        _nt(kraken_dir, "http_futures_historical_funding_rates.json"), "PF_XBTUSD", RECV
    )
    assert [(r.rate, r.relative_rate) for r in rates] == [
        ("0.00005", "0.0001"),
        ("-0.000025", "-0.00005"),
        ("0.000075", "0.00015"),
    ]
    assert rates[0].ts_event_ns == iso_to_ns("2025-07-11T08:00:00Z")


def test_error_answers_carry_the_retry_decision() -> None:
    with pytest.raises(VenueBusyError) as busy:
        parse_instruments(
            b'{"result":"error","serverTime":"2021-01-01T00:00:00Z","error":"apiLimitExceeded"}'
        )
    assert should_retry(busy.value)
    with pytest.raises(VenueRejectedError) as rejected:
        parse_tickers(b'{"result":"error","error":"invalidArgument"}', RECV)
    assert not should_retry(rejected.value)
    assert rejected.value.code == "invalidArgument"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"result":"success","instruments":[{"type":"x"}]}',
        b'{"result":"success","instruments":[{"symbol":"A","type":"x","tickSize":"0.5"}]}',
    ],
)
def test_bad_bodies_are_malformed(body: bytes) -> None:
    with pytest.raises(MalformedFrame):
        parse_instruments(body)


def test_orderbook_without_book_is_malformed() -> None:
    with pytest.raises(MalformedFrame, match="no orderBook"):
        parse_orderbook(b'{"result":"success"}', "X", RECV)
