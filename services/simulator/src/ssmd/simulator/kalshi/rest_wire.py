"""Kalshi REST bodies (K-OPENAPI ``Market``, ``EventData``, ``Series``, trades, order book).

Field names are the wire's. ``Market`` lists its fields in alphabetical order, as the real
``GET /markets`` body does (shared/fixtures/venues/kalshi/ccxt_static_response), including
``settlement_timer_seconds`` as a string, as the venue sends it there. The builders turn
the simulator's market state into these bodies; a replayed market (no synthetic book) has
zero quotes.
"""

from __future__ import annotations

from typing import Final

import msgspec

from ssmd.simulator.kalshi.catalog import EventInfo, MarketInfo, SeriesInfo, rfc3339
from ssmd.simulator.kalshi.frames import PRICE_TEXT, count_text
from ssmd.simulator.kalshi.markets import KalshiMarket, Quote, RecentTrade

_CENTS: Final = 100
_SETTLEMENT_TIMER_S: Final = "1800"
_ZERO_QUOTE: Final = Quote(0, 0, 0, 0, 0, 0, 0, 0)


class RestPriceRange(msgspec.Struct, frozen=True):
    end: str
    start: str
    step: str


_LINEAR_CENT: Final = [RestPriceRange("1.0000", "0.0000", "0.0100")]


class MarketWire(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    can_close_early: bool
    cap_strike: msgspec.Raw | None = None
    close_time: str
    created_time: str
    early_close_condition: str
    event_ticker: str
    expected_expiration_time: str
    expiration_time: str
    expiration_value: str
    floor_strike: msgspec.Raw | None = None
    fractional_trading_enabled: bool
    last_price_dollars: str
    latest_expiration_time: str
    liquidity_dollars: str
    market_type: str
    no_ask_dollars: str
    no_bid_dollars: str
    no_sub_title: str
    notional_value_dollars: str
    open_interest_fp: str
    open_time: str
    previous_price_dollars: str
    previous_yes_ask_dollars: str
    previous_yes_bid_dollars: str
    price_level_structure: str
    price_ranges: list[RestPriceRange]
    response_price_units: str
    result: str
    rules_primary: str
    rules_secondary: str
    settlement_timer_seconds: str
    settlement_ts: str | None = None
    settlement_value_dollars: str | None = None
    status: str
    strike_type: str
    ticker: str
    title: str
    updated_time: str
    volume_24h_fp: str
    volume_fp: str
    yes_ask_dollars: str
    yes_ask_size_fp: str
    yes_bid_dollars: str
    yes_bid_size_fp: str
    yes_sub_title: str


class EventWire(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    event_ticker: str
    series_ticker: str
    sub_title: str
    title: str
    collateral_return_type: str
    mutually_exclusive: bool
    category: str
    strike_date: str | None = None
    markets: list[MarketWire] | None = None
    available_on_brokers: bool
    last_updated_ts: str


class SettlementSource(msgspec.Struct, frozen=True):
    name: str
    url: str


class SeriesWire(msgspec.Struct, frozen=True, kw_only=True):
    ticker: str
    frequency: str
    title: str
    category: str
    tags: list[str]
    settlement_sources: list[SettlementSource]
    contract_url: str
    contract_terms_url: str
    fee_type: str
    fee_multiplier: int
    additional_prohibitions: list[str]
    last_updated_ts: str


class TradeWire(msgspec.Struct, frozen=True):
    trade_id: str
    ticker: str
    count_fp: str
    yes_price_dollars: str
    no_price_dollars: str
    taker_side: str
    created_time: str


class OrderbookWire(msgspec.Struct, frozen=True):
    no_dollars: list[tuple[str, str]]
    yes_dollars: list[tuple[str, str]]


def _raw(text: str | None) -> msgspec.Raw | None:
    return None if text is None else msgspec.Raw(text.encode())


def market_wire(market: KalshiMarket) -> MarketWire:
    """The ``Market`` body of `market` now."""
    info: MarketInfo = market.info
    quote = market.quote() if market.synthetic else _ZERO_QUOTE
    start = (market.start_quote or quote) if market.synthetic else _ZERO_QUOTE
    settled = info.settled_ns
    return MarketWire(
        can_close_early=True,
        cap_strike=_raw(info.cap_strike),
        close_time=rfc3339(info.close_ns),
        created_time=rfc3339(info.created_ns, micros=True),
        early_close_condition="This market will close and expire early if the event occurs.",
        event_ticker=info.event_ticker,
        expected_expiration_time=rfc3339(info.expected_expiration_ns),
        expiration_time=rfc3339(info.latest_expiration_ns),
        expiration_value="",
        floor_strike=_raw(info.floor_strike),
        fractional_trading_enabled=True,
        last_price_dollars=PRICE_TEXT[quote.last],
        latest_expiration_time=rfc3339(info.latest_expiration_ns),
        liquidity_dollars="0.0000",
        market_type="binary",
        no_ask_dollars=PRICE_TEXT[_CENTS - quote.bid] if quote.bid else PRICE_TEXT[0],
        no_bid_dollars=PRICE_TEXT[_CENTS - quote.ask] if quote.ask else PRICE_TEXT[0],
        no_sub_title=info.no_sub_title,
        notional_value_dollars="1.0000",
        open_interest_fp=count_text(quote.open_interest)[0],
        open_time=rfc3339(info.open_ns),
        previous_price_dollars=PRICE_TEXT[start.last],
        previous_yes_ask_dollars=PRICE_TEXT[start.ask],
        previous_yes_bid_dollars=PRICE_TEXT[start.bid],
        price_level_structure="linear_cent",
        price_ranges=_LINEAR_CENT,
        response_price_units="usd_cent",
        result=info.result,
        rules_primary=info.rules_primary,
        rules_secondary="",
        settlement_timer_seconds=_SETTLEMENT_TIMER_S,
        settlement_ts=rfc3339(settled) if settled is not None else None,
        settlement_value_dollars=info.settlement_value,
        status=info.status,
        strike_type=info.strike_type,
        ticker=info.ticker,
        title=info.title,
        updated_time=rfc3339(info.updated_ns, micros=True),
        volume_24h_fp=count_text(quote.volume - start.volume)[0],
        volume_fp=count_text(quote.volume)[0],
        yes_ask_dollars=PRICE_TEXT[quote.ask],
        yes_ask_size_fp=count_text(quote.ask_size)[0],
        yes_bid_dollars=PRICE_TEXT[quote.bid],
        yes_bid_size_fp=count_text(quote.bid_size)[0],
        yes_sub_title=info.yes_sub_title,
    )


def event_wire(event: EventInfo, series: SeriesInfo, markets: list[MarketWire] | None) -> EventWire:
    return EventWire(
        event_ticker=event.event_ticker,
        series_ticker=event.series_ticker,
        sub_title=event.sub_title,
        title=event.title,
        collateral_return_type="MECNET" if event.mutually_exclusive else "",
        mutually_exclusive=event.mutually_exclusive,
        category=series.category,
        strike_date=rfc3339(event.strike_ns) if event.strike_ns is not None else None,
        markets=markets,
        available_on_brokers=False,
        last_updated_ts=rfc3339(event.created_ns, micros=True),
    )


def series_wire(series: SeriesInfo, updated_ns: int) -> SeriesWire:
    slug = series.ticker.lower()
    return SeriesWire(
        ticker=series.ticker,
        frequency=series.frequency,
        title=series.title,
        category=series.category,
        tags=list(series.tags),
        settlement_sources=[SettlementSource(series.source_name, series.source_url)],
        contract_url=f"https://kalshi.com/markets/{slug}",
        contract_terms_url=f"https://kalshi-public-docs.s3.amazonaws.com/contract_terms/{slug}.pdf",
        fee_type="quadratic",
        fee_multiplier=1,
        additional_prohibitions=[],
        last_updated_ts=rfc3339(updated_ns, micros=True),
    )


def trade_wire(trade: RecentTrade) -> TradeWire:
    return TradeWire(
        trade_id=trade.trade_id,
        ticker=trade.ticker,
        count_fp=trade.count_fp,
        yes_price_dollars=trade.yes_price,
        no_price_dollars=trade.no_price,
        taker_side=trade.taker_side,
        created_time=rfc3339(trade.ts_ms * 1_000_000, micros=True),
    )
