"""Kraken Futures' universe: ``GET /instruments`` (one page) into market records.

The body goes through ``ssmd.venues.kraken_futures.rest`` (`decode_body` and
`instrument_from_wire`, what `parse_instruments` does, keeping the wire entry for its
margin tiers). Per VENUES.md 2.5-2.7, `instrument_record` maps one `Instrument`:

* indices (kind ``index``) are skipped: nothing trades on them;
* kind perpetual / fixed_maturity (else other); status open when ``tradeable``, else closed
  (the venue has no other lifecycle; an expired future leaves the listing: ``removed``);
* tick and contract size as exact decimal text; ``openingDate`` -> open time,
  ``lastTradingTime`` -> close and expiry of a fixed maturity; title ``<pair> <kind>``;
  series = the base currency (it groups a base's perpetuals and futures);
* funding (``fundingRateCoefficient``, ``maxRelativeFundingRate``), the first margin tier
  (``initialMargin``, ``maintenanceMargin``), type, base/quote/pair, underlying, precision,
  fee schedule and ISIN in `attributes`.
"""

from __future__ import annotations

import logging
from typing import Final

from ssmd.contracts.reference import MarketKind
from ssmd.secmaster.model import MarketRecord
from ssmd.secmaster.sync.http import RestClient
from ssmd.secmaster.sync.source import SourcePage, Staged, market_row, records_only
from ssmd.venues.errors import MalformedFrame
from ssmd.venues.kraken_futures.config import VENUE
from ssmd.venues.kraken_futures.rest import Instrument, decode_body, instrument_from_wire
from ssmd.venues.kraken_futures.wire import InstrumentsResponse, InstrumentWire
from ssmd.venues.numbers import number_text

log = logging.getLogger(__name__)


def _margins(wire: InstrumentWire, body: bytes) -> dict[str, str]:
    if not wire.marginLevels:
        return {}
    first = wire.marginLevels[0]
    try:
        return {
            "initial_margin": number_text(bytes(first.initialMargin)),
            "maintenance_margin": number_text(bytes(first.maintenanceMargin)),
        }
    except ValueError as exc:
        raise MalformedFrame(body, f"{wire.symbol} marginLevels: {exc}") from None


def instrument_record(instrument: Instrument, margins: dict[str, str]) -> MarketRecord:
    """The record of one tradeable product (not an index)."""
    found: dict[str, object] = {
        "type": instrument.type,
        "base": instrument.base,
        "quote": instrument.quote,
        "pair": instrument.pair,
        "underlying": instrument.underlying,
        "funding_rate_coefficient": instrument.funding_rate_coefficient,
        "max_relative_funding_rate": instrument.max_relative_funding_rate,
        "contract_value_trade_precision": instrument.contract_value_trade_precision,
        "post_only": instrument.post_only,
        "fee_schedule_uid": instrument.fee_schedule_uid,
        "isin": instrument.isin,
    }
    attributes = {
        name: ("true" if value else "false") if isinstance(value, bool) else str(value)
        for name, value in found.items()
        if value is not None and value != ""
    }
    attributes.update(margins)
    kind: MarketKind = instrument.kind
    fixed = kind == "fixed_maturity"
    pair = instrument.pair or (
        f"{instrument.base}:{instrument.quote}" if instrument.base and instrument.quote else None
    )
    title = f"{pair} {kind.replace('_', ' ')}" if pair else None
    return MarketRecord(
        venue=VENUE,
        symbol=instrument.symbol,
        kind=kind,
        status="open" if instrument.tradeable else "closed",
        title=title,
        series=instrument.base,
        tick_size=instrument.tick_size,
        contract_size=instrument.contract_size,
        open_ts_ns=instrument.opening_ts_ns,
        close_ts_ns=instrument.last_trading_ts_ns if fixed else None,
        expiry_ts_ns=instrument.last_trading_ts_ns if fixed else None,
        attributes=attributes,
    )


def instrument_records(body: bytes) -> tuple[list[MarketRecord], list[str]]:
    """The records of a ``GET /instruments`` body, and what was skipped (indices) and why."""
    raw = bytes(body)
    response = decode_body(raw, InstrumentsResponse)
    records: list[MarketRecord] = []
    skipped: list[str] = []
    for wire in response.instruments:
        instrument = instrument_from_wire(wire, raw)
        if instrument.kind == "index":
            skipped.append(f"{instrument.symbol}: an index ({instrument.type}), not tradeable")
            continue
        records.append(instrument_record(instrument, _margins(wire, raw)))
    return records, skipped


class KrakenFuturesSource:
    """Kraken Futures' instrument list as one page of staged rows; see module doc."""

    venue: Final = VENUE

    def __init__(self, client: RestClient, rest_url: str) -> None:
        self._client = client
        self._rest_url = rest_url

    async def fetch_page(self, cursor: str | None) -> SourcePage:
        if cursor is not None:
            raise ValueError(f"Kraken Futures lists instruments on one page: cursor {cursor!r}")
        records, skipped = await self._client.get(
            f"{self._rest_url}/instruments", None, parse=instrument_records
        )
        return SourcePage(
            [market_row(record) for record in records],
            None,
            skipped=len(skipped),
            skipped_reasons=skipped,
        )

    def finish(self, staged: Staged) -> list[MarketRecord]:
        return records_only(staged)
