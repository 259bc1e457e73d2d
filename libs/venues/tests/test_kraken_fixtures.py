"""Every Kraken Futures fixture file is read by the adapter, and none of them fails.

Data files become canonical events, private feeds and trading answers decode into their
wire structs, captures parse whole. A new fixture file without a reader here fails the
test named after it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from ssmd.venues.capture import read_capture
from ssmd.venues.kraken_futures.parse import KrakenFuturesParser
from ssmd.venues.kraken_futures.rest import (
    decode_body,
    parse_historical_funding_rates,
    parse_instruments,
    parse_orderbook,
    parse_tickers,
)
from ssmd.venues.kraken_futures.wire import CandlesResponse, PublicExecutionsResponse
from ssmd.venues.kraken_futures.wire_private import (
    CancelOrderResponse,
    FillsResponse,
    OpenOrdersResponse,
    OpenPositionsResponse,
    OrderEventsResponse,
    SendOrderResponse,
    decode_private_ws,
)

pytestmark = pytest.mark.unit

RECV = 1


def _ws_data(path: Path) -> int:
    result = KrakenFuturesParser().parse(path.read_bytes(), RECV)
    assert result.events
    assert not result.unsupported
    return len(result.events)


def _ws_private(path: Path) -> int:
    assert KrakenFuturesParser().parse(path.read_bytes(), RECV).unsupported
    message = decode_private_ws(path.read_bytes())
    return 1 if message else 0


def _struct(kind: type[msgspec.Struct]) -> Callable[[Path], int]:
    def read(path: Path) -> int:
        decoded = decode_body(path.read_bytes(), kind)
        fields = msgspec.structs.asdict(decoded)
        return sum(1 for value in fields.values() if value not in (None, [], ""))

    return read


def _ws_capture(path: Path) -> int:
    parser = KrakenFuturesParser()
    return sum(
        len(parser.parse(r.frame, r.ts_ns).events)
        for r in read_capture(path)
        if r.direction == "in"
    )


def _rest_capture(path: Path) -> int:
    return sum(
        len(parse_instruments(r.frame)) for r in read_capture(path) if r.direction == "response"
    )


READERS: list[tuple[str, Callable[[Path], int]]] = [
    ("KRAKEN_FUTURES.ws.", _ws_capture),
    ("KRAKEN_FUTURES.0.rest_capture", _rest_capture),
    ("ws_futures_book_", _ws_data),
    ("ws_futures_ticker", _ws_data),
    ("ws_futures_trade", _ws_data),
    ("ws_futures_fills_", _ws_private),
    ("ws_futures_open_orders_", _ws_private),
    ("http_cancel_order_futures", _struct(CancelOrderResponse)),
    ("http_send_order_futures", _struct(SendOrderResponse)),
    ("http_futures_candles_", _struct(CandlesResponse)),
    ("http_futures_fills", _struct(FillsResponse)),
    ("http_futures_open_orders", _struct(OpenOrdersResponse)),
    ("http_futures_open_positions", _struct(OpenPositionsResponse)),
    ("http_futures_order_events", _struct(OrderEventsResponse)),
    ("http_futures_public_executions", _struct(PublicExecutionsResponse)),
    ("http_futures_instrument", lambda p: len(parse_instruments(p.read_bytes()))),
    ("http_futures_tickers", lambda p: len(parse_tickers(p.read_bytes(), RECV))),
    ("http_futures_orderbook", lambda p: len(parse_orderbook(p.read_bytes(), "X", RECV).bids)),
    (
        "http_futures_historical_funding_rates",
        lambda p: len(parse_historical_funding_rates(p.read_bytes(), "X", RECV)),
    ),
]


def test_every_fixture_file_is_read(kraken_fixture_file: Path) -> None:
    readers = [read for prefix, read in READERS if kraken_fixture_file.name.startswith(prefix)]
    assert readers, f"no reader for fixture {kraken_fixture_file.name}: add one to READERS"
    assert readers[0](kraken_fixture_file) > 0


def test_the_fixture_directory_is_there(kraken_dir: Path) -> None:
    assert len([p for p in kraken_dir.rglob("*") if p.is_file()]) >= 32
