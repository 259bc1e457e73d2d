"""Kalshi's universe: ``GET /series``, ``/events`` and ``/markets`` into secmaster rows.

A sync pages in three phases, named by the cursor it saves (``<phase>:<venue cursor>``):
``series`` (one ``GET /series``), ``events`` (``GET /events``, 200 a page) and ``markets``
(``GET /markets``, 1000 a page, every status, so removals can be seen). Bodies go through
``ssmd.venues.kalshi.rest``; `market_record` maps one `Market` (VENUES.md 1.10):

* status: initialized -> unopened, active -> open, inactive -> paused, closed -> closed,
  determined/disputed/amended -> determined, finalized -> settled (the filter names
  unopened/open/paused/settled, which older answers print, map to themselves);
* kind binary (``market_type`` scalar -> other); result yes/no/scalar, "" -> None;
* tick size: the smallest ``price_ranges`` step, else the ``price_level_structure``'s
  finest tick, else the deprecated integer ``tick_size`` in cents;
* contract size: ``notional_value_dollars``; open/close/expiry from ``open_time``,
  ``close_time``, ``expected_expiration_time`` (else ``latest_expiration_time``);
* strike facts (``strike_type``, ``floor_strike``, ``cap_strike``, ...), sub-titles and
  the price grid in `attributes`. Quotes, volumes and ``updated_time`` are left out: they
  change all the time and would make every sync rewrite every market.

`finish` fills each market's series from its event (``series_ticker``; the ticker's first
segment when the event is unknown) and its category from the series (``Series.category``;
the deprecated ``EventData.category`` when the series is unknown).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Final

import msgspec

from ssmd.contracts.reference import MarketKind, RefStatus
from ssmd.secmaster.model import MarketRecord
from ssmd.secmaster.store import EventRow, SeriesRow
from ssmd.secmaster.sync.http import RestClient
from ssmd.secmaster.sync.source import (
    SourcePage,
    Staged,
    event_row,
    market_row,
    series_row,
)
from ssmd.venues.errors import MalformedFrame
from ssmd.venues.kalshi.config import VENUE
from ssmd.venues.kalshi.rest import (
    EventData,
    Market,
    Page,
    Series,
    parse_events,
    parse_markets,
    parse_series,
)
from ssmd.venues.kalshi.wire import rfc3339_ns
from ssmd.venues.numbers import plain_decimal

log = logging.getLogger(__name__)

MARKETS_PAGE_LIMIT: Final = 1000
"""The most ``GET /markets`` allows (K-OPENAPI)."""
EVENTS_PAGE_LIMIT: Final = 200
"""The most ``GET /events`` allows (K-OPENAPI)."""
STATUSES: Final[dict[str, RefStatus]] = {
    "initialized": "unopened",
    "active": "open",
    "inactive": "paused",
    "closed": "closed",
    "determined": "determined",
    "disputed": "determined",
    "amended": "determined",
    "finalized": "settled",
    "unopened": "unopened",
    "open": "open",
    "paused": "paused",
    "settled": "settled",
}
PRICE_LEVEL_TICKS: Final[dict[str, str]] = {
    "linear_cent": "0.01",
    "deci_cent": "0.001",
    "tapered_deci_cent": "0.001",
}
_SERIES, _EVENTS, _MARKETS = "series", "events", "markets"
_ENCODER: Final = msgspec.json.Encoder()


def _malformed(market: Market, reason: str) -> MalformedFrame:
    return MalformedFrame(_ENCODER.encode(market), f"market {market.ticker}: {reason}")


def _decimal(text: object, field: str, market: Market) -> str:
    try:
        return plain_decimal(str(text))
    except ValueError as exc:
        raise _malformed(market, f"{field}: {exc}") from None


def _ns(text: str | None, field: str, market: Market) -> int | None:
    if not text:
        return None
    try:
        return rfc3339_ns(text)
    except ValueError as exc:
        raise _malformed(market, f"{field}: {exc}") from None


def _tick_size(market: Market) -> str | None:
    if market.price_ranges:
        steps = [_decimal(band.step, "price_ranges.step", market) for band in market.price_ranges]
        return min(steps, key=Decimal)
    if market.price_level_structure in PRICE_LEVEL_TICKS:
        return PRICE_LEVEL_TICKS[market.price_level_structure]
    if market.tick_size is not None:
        return _decimal(Decimal(market.tick_size) / 100, "tick_size", market)
    return None


def _attributes(market: Market) -> dict[str, str]:
    found: dict[str, object] = {
        "strike_type": market.strike_type,
        "floor_strike": market.floor_strike,
        "cap_strike": market.cap_strike,
        "functional_strike": market.functional_strike,
        "yes_sub_title": market.yes_sub_title,
        "no_sub_title": market.no_sub_title,
        "market_type": market.market_type,
        "price_level_structure": market.price_level_structure,
        "settlement_timer_s": market.settlement_timer_s,
        "can_close_early": market.can_close_early,
        "fractional_trading_enabled": market.fractional_trading_enabled,
        "latest_expiration_time": market.latest_expiration_time,
        "settlement_value_dollars": market.settlement_value_dollars,
        "settlement_ts": market.settlement_ts,
        "mve_collection_ticker": market.mve_collection_ticker,
        "custom_strike": market.custom_strike,
    }
    attributes: dict[str, str] = {}
    for name, value in found.items():
        if value is None or value == "":
            continue
        if isinstance(value, bool):
            attributes[name] = "true" if value else "false"
        elif name in ("floor_strike", "cap_strike"):
            attributes[name] = _decimal(value, name, market)
        elif isinstance(value, dict):
            attributes[name] = _ENCODER.encode(value).decode()
        else:
            attributes[name] = str(value)
    return attributes


def market_record(market: Market) -> MarketRecord:
    """The record of one Kalshi market; `MalformedFrame` if its status or times are bad."""
    if market.status is None:
        raise _malformed(market, "no status")
    status = STATUSES.get(market.status)
    if status is None:
        raise _malformed(market, f"unknown status {market.status!r}")
    kind: MarketKind = "other" if market.market_type == "scalar" else "binary"
    expiry = market.expected_expiration_time or market.latest_expiration_time
    return MarketRecord(
        venue=VENUE,
        symbol=market.ticker,
        kind=kind,
        status=status,
        result=market.result or None,
        title=market.title or None,
        event=market.event_ticker,
        series=market.event_ticker.split("-", 1)[0],
        tick_size=_tick_size(market),
        contract_size=(
            None
            if market.notional_value_dollars is None
            else _decimal(market.notional_value_dollars, "notional_value_dollars", market)
        ),
        open_ts_ns=_ns(market.open_time, "open_time", market),
        close_ts_ns=_ns(market.close_time, "close_time", market),
        expiry_ts_ns=_ns(expiry, "expected_expiration_time", market),
        attributes=_attributes(market),
    )


def market_records(page: Page[Market]) -> tuple[list[MarketRecord], list[str]]:
    """The records of a parsed ``GET /markets`` page, and why any market was skipped."""
    records: list[MarketRecord] = []
    skipped: list[str] = []
    for market in page.items:
        try:
            records.append(market_record(market))
        except MalformedFrame as exc:
            skipped.append(exc.reason)
    return records, skipped


def series_record(series: Series) -> SeriesRow:
    attributes = {
        name: str(value)
        for name, value in (
            ("fee_type", series.fee_type),
            ("fee_multiplier", series.fee_multiplier),
            ("contract_url", series.contract_url),
            ("contract_terms_url", series.contract_terms_url),
        )
        if value is not None and value != ""
    }
    return SeriesRow(
        series=series.ticker,
        title=series.title or None,
        category=series.category or None,
        tags=list(series.tags or []),
        frequency=series.frequency or None,
        attributes=attributes,
    )


def event_record(event: EventData) -> EventRow:
    attributes = {
        name: str(value).lower() if isinstance(value, bool) else str(value)
        for name, value in (
            ("collateral_return_type", event.collateral_return_type),
            ("mutually_exclusive", event.mutually_exclusive),
            ("strike_date", event.strike_date),
            ("strike_period", event.strike_period),
        )
        if value is not None and value != ""
    }
    return EventRow(
        event=event.event_ticker,
        series=event.series_ticker,
        title=event.title or None,
        sub_title=event.sub_title or None,
        category=event.category or None,
        attributes=attributes,
    )


def _next(phase: str, venue_cursor: str, current: str | None, request: str) -> str:
    """The saved cursor of the next page; a venue cursor that repeats would page forever."""
    following = f"{phase}:{venue_cursor}"
    if following == current:
        raise MalformedFrame(
            venue_cursor.encode(), f"{request}: the next cursor is the current one"
        )
    return following


class KalshiSource:
    """Kalshi's REST listing as pages of staged rows; see module doc."""

    venue: Final = VENUE

    def __init__(
        self,
        client: RestClient,
        rest_url: str,
        *,
        markets_page_limit: int = MARKETS_PAGE_LIMIT,
        events_page_limit: int = EVENTS_PAGE_LIMIT,
    ) -> None:
        self._client = client
        self._rest_url = rest_url
        self._markets_limit = markets_page_limit
        self._events_limit = events_page_limit

    def _params(self, limit: int, venue_cursor: str) -> dict[str, str]:
        params = {"limit": str(limit)}
        if venue_cursor:
            params["cursor"] = venue_cursor
        return params

    async def fetch_page(self, cursor: str | None) -> SourcePage:
        phase, _, venue_cursor = (cursor or f"{_SERIES}:").partition(":")
        if phase == _SERIES:
            series = await self._client.get(f"{self._rest_url}/series", None, parse=parse_series)
            rows = [series_row(series_record(one)) for one in series]
            return SourcePage(rows, f"{_EVENTS}:")
        if phase == _EVENTS:
            events = await self._client.get(
                f"{self._rest_url}/events",
                self._params(self._events_limit, venue_cursor),
                parse=parse_events,
            )
            rows = [event_row(event_record(event)) for event in events.items]
            if not events.cursor:
                return SourcePage(rows, f"{_MARKETS}:")
            return SourcePage(rows, _next(_EVENTS, events.cursor, cursor, "GET /events"))
        if phase != _MARKETS:
            raise ValueError(f"not a Kalshi sync cursor: {cursor!r}")
        markets = await self._client.get(
            f"{self._rest_url}/markets",
            self._params(self._markets_limit, venue_cursor),
            parse=parse_markets,
        )
        records, skipped = market_records(markets)
        following = (
            _next(_MARKETS, markets.cursor, cursor, "GET /markets") if markets.cursor else None
        )
        return SourcePage(
            [market_row(record) for record in records],
            following,
            skipped=len(skipped),
            skipped_reasons=skipped,
        )

    def finish(self, staged: Staged) -> list[MarketRecord]:
        categories = {series.series: series.category for series in staged.series}
        events = {event.event: event for event in staged.events}
        finished: list[MarketRecord] = []
        for record in staged.records:
            event = events.get(record.event) if record.event is not None else None
            series = event.series if event is not None and event.series else record.series
            category = categories.get(series) if series is not None else None
            if category is None and event is not None:
                category = event.category
            if (series, category) != (record.series, record.category):
                finished.append(msgspec.structs.replace(record, series=series, category=category))
            else:
                finished.append(record)
        return finished
