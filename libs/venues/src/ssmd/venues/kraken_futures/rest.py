"""Kraken Futures REST reference and market data: bodies into `Instrument` and events.

Bodies are the raw bytes of ``GET /instruments``, ``/tickers``, ``/orderbook?symbol=`` and
``/historical-funding-rates?symbol=`` answers (a live client or a capture file). Each
function decodes the envelope, turns ``"result":"error"`` into `VenueRejectedError` or
`VenueBusyError`, and a body of the wrong shape into `MalformedFrame`. Symbols are
upper-cased: the 2021 API listed ``pi_xbtusd`` where the WebSocket sends ``PI_XBTUSD``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, TypeVar

import msgspec

from ssmd.contracts.events import BookSnapshot, FundingRate, MarketEvent, PriceLevel, Quote
from ssmd.contracts.symbols import market_id
from ssmd.core.errors import SsmdError
from ssmd.venues.errors import MalformedFrame, VenueBusyError, VenueRejectedError
from ssmd.venues.kraken_futures.config import VENUE
from ssmd.venues.kraken_futures.wire import (
    HistoricalFundingRatesResponse,
    InstrumentsResponse,
    InstrumentWire,
    OrderBookResponse,
    TickersResponse,
)
from ssmd.venues.numbers import number_text

InstrumentKind = Literal["perpetual", "fixed_maturity", "index", "other"]
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_PERPETUAL_PREFIXES: Final = ("PF_", "PI_")
_FIXED_PREFIXES: Final = ("FF_", "FI_")
_SYMBOL_RE: Final = re.compile(r"^(?:PF|PI|FF|FI)_([A-Z0-9]+?)(USD|EUR|GBP|USDT|USDC)(?:_\d{6})?$")
# Error codes after which the same request may succeed (KF-DOCS/futures-rest errors).
_TEMPORARY_CODES: Final = frozenset({"apiLimitExceeded", "Server Error", "unavailable"})

E = TypeVar("E", bound=msgspec.Struct)


class Instrument(msgspec.Struct, frozen=True, kw_only=True):
    """A tradeable product (or an index) as secmaster needs it; decimals are strings."""

    symbol: str
    market: str
    type: str
    kind: InstrumentKind
    tradeable: bool
    tick_size: str | None = None
    contract_size: str | None = None
    base: str | None = None
    quote: str | None = None
    pair: str | None = None
    underlying: str | None = None
    last_trading_ts_ns: int | None = None
    opening_ts_ns: int | None = None
    funding_rate_coefficient: str | None = None
    max_relative_funding_rate: str | None = None
    contract_value_trade_precision: str | None = None
    post_only: bool | None = None
    fee_schedule_uid: str | None = None
    isin: str | None = None


def iso_to_ns(text: str) -> int:
    """Unix nanoseconds of an ISO 8601 time such as ``2021-09-24T15:00:00.000Z``."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def decode_body(body: bytes | str, kind: type[E]) -> E:
    """Decode a REST body into `kind`; raise the venue's error if it reports one."""
    raw = body.encode() if isinstance(body, str) else bytes(body)
    try:
        envelope = msgspec.json.decode(raw, type=kind)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise MalformedFrame(raw, f"not a {kind.__name__}: {exc}") from None
    result = getattr(envelope, "result", None)
    if result is not None and result != "success":
        raise venue_error(getattr(envelope, "error", None) or "unknown")
    return envelope


def venue_error(code: str) -> SsmdError:
    """The exception for a venue error code: temporary codes retry, the rest do not."""
    if code in _TEMPORARY_CODES:
        return VenueBusyError(code)
    return VenueRejectedError(code)


def _opt(raw: msgspec.Raw, field: str, body: bytes) -> str | None:
    data = bytes(raw)
    if data == b"null":
        return None
    try:
        return number_text(data)
    except ValueError as exc:
        raise MalformedFrame(body, f"{field}: {exc}") from None


def _time(text: str | None, field: str, body: bytes) -> int | None:
    if text is None:
        return None
    try:
        return iso_to_ns(text)
    except ValueError as exc:
        raise MalformedFrame(body, f"{field}: {exc}") from None


def _kind(wire: InstrumentWire, symbol: str) -> InstrumentKind:
    if "index" in wire.type:
        return "index"
    if wire.lastTradingTime is not None or symbol.startswith(_FIXED_PREFIXES):
        return "fixed_maturity"
    if symbol.startswith(_PERPETUAL_PREFIXES) or "futures" in wire.type:
        return "perpetual"
    return "other"


def instrument_from_wire(wire: InstrumentWire, body: bytes = b"") -> Instrument:
    """One `Instrument` from its wire entry (base and quote derived from the symbol if absent)."""
    symbol = wire.symbol.upper()
    parsed = _SYMBOL_RE.match(symbol)
    return Instrument(
        symbol=symbol,
        market=market_id(VENUE, symbol),
        type=wire.type,
        kind=_kind(wire, symbol),
        tradeable=bool(wire.tradeable),
        tick_size=_opt(wire.tickSize, "tickSize", body),
        contract_size=_opt(wire.contractSize, "contractSize", body),
        base=wire.base or (parsed.group(1) if parsed else None),
        quote=wire.quote or (parsed.group(2) if parsed else None),
        pair=wire.pair,
        underlying=wire.underlying,
        last_trading_ts_ns=_time(wire.lastTradingTime, "lastTradingTime", body),
        opening_ts_ns=_time(wire.openingDate, "openingDate", body),
        funding_rate_coefficient=_opt(wire.fundingRateCoefficient, "fundingRateCoefficient", body),
        max_relative_funding_rate=_opt(wire.maxRelativeFundingRate, "maxRelativeFundingRate", body),
        contract_value_trade_precision=_opt(
            wire.contractValueTradePrecision, "contractValueTradePrecision", body
        ),
        post_only=wire.postOnly,
        fee_schedule_uid=wire.feeScheduleUid,
        isin=wire.isin,
    )


def parse_instruments(body: bytes | str) -> list[Instrument]:
    """Every instrument of a ``GET /instruments`` answer."""
    raw = body.encode() if isinstance(body, str) else bytes(body)
    response = decode_body(raw, InstrumentsResponse)
    return [instrument_from_wire(wire, raw) for wire in response.instruments]


def parse_tickers(body: bytes | str, ts_recv_ns: int) -> list[MarketEvent]:
    """A Quote per ticker, and a FundingRate per ticker that carries ``fundingRate``.

    Venue time is the answer's ``serverTime`` (the moment of the snapshot), else receipt.
    """
    raw = body.encode() if isinstance(body, str) else bytes(body)
    response = decode_body(raw, TickersResponse)
    ts_event_ns = _time(response.serverTime, "serverTime", raw) or ts_recv_ns
    events: list[MarketEvent] = []
    for ticker in response.tickers:
        market = market_id(VENUE, ticker.symbol.upper())
        events.append(
            Quote(
                venue=VENUE,
                market=market,
                ts_event_ns=ts_event_ns,
                ts_recv_ns=ts_recv_ns,
                bid_price=_opt(ticker.bid, "bid", raw),
                bid_size=_opt(ticker.bidSize, "bidSize", raw),
                ask_price=_opt(ticker.ask, "ask", raw),
                ask_size=_opt(ticker.askSize, "askSize", raw),
                last_price=_opt(ticker.last, "last", raw),
            )
        )
        rate = _opt(ticker.fundingRate, "fundingRate", raw)
        if rate is not None:
            events.append(
                FundingRate(
                    venue=VENUE,
                    market=market,
                    ts_event_ns=ts_event_ns,
                    ts_recv_ns=ts_recv_ns,
                    rate=rate,
                )
            )
    return events


def parse_orderbook(body: bytes | str, symbol: str, ts_recv_ns: int) -> BookSnapshot:
    """The BookSnapshot of a ``GET /orderbook?symbol=`` answer (no venue sequence)."""
    raw = body.encode() if isinstance(body, str) else bytes(body)
    response = decode_body(raw, OrderBookResponse)
    if response.orderBook is None:
        raise MalformedFrame(raw, "no orderBook")
    ts_event_ns = _time(response.serverTime, "serverTime", raw) or ts_recv_ns

    def levels(pairs: list[tuple[msgspec.Raw, msgspec.Raw]]) -> list[PriceLevel]:
        out = []
        for price_raw, size_raw in pairs:
            price = _opt(price_raw, "price", raw)
            size = _opt(size_raw, "qty", raw)
            assert price is not None
            assert size is not None
            if size[0] == "-":
                raise MalformedFrame(raw, f"negative size {size}")
            if size != "0":
                out.append(PriceLevel(price, size))
        return out

    return BookSnapshot(
        venue=VENUE,
        market=market_id(VENUE, symbol.upper()),
        ts_event_ns=ts_event_ns,
        ts_recv_ns=ts_recv_ns,
        bids=levels(response.orderBook.bids),
        asks=levels(response.orderBook.asks),
    )


def parse_historical_funding_rates(
    body: bytes | str, symbol: str, ts_recv_ns: int
) -> list[FundingRate]:
    """FundingRate events of a ``GET /historical-funding-rates?symbol=`` answer."""
    raw = body.encode() if isinstance(body, str) else bytes(body)
    response = decode_body(raw, HistoricalFundingRatesResponse)
    market = market_id(VENUE, symbol.upper())
    events = []
    for entry in response.rates:
        rate = _opt(entry.fundingRate, "fundingRate", raw)
        assert rate is not None
        ts_ns = _time(entry.timestamp, "timestamp", raw)
        assert ts_ns is not None
        events.append(
            FundingRate(
                venue=VENUE,
                market=market,
                ts_event_ns=ts_ns,
                ts_recv_ns=ts_recv_ns,
                rate=rate,
                relative_rate=_opt(entry.relativeFundingRate, "relativeFundingRate", raw),
            )
        )
    return events
