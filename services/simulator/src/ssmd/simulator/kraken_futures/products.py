"""The simulated Kraken Futures products: what each symbol trades like, and its REST entry.

A symbol alone decides a product: ``PF_``/``FF_`` are linear (flexible, multi-collateral),
``PI_``/``FI_`` inverse (sizes in USD contracts); ``PF_``/``PI_`` are perpetuals (funding
every hour), ``FF_``/``FI_`` fixed maturities whose ``<yymmdd>`` is the last trading day
(15:00 UTC, as in the venue's 2021 instruments). Price level, tick and size precision come
from a small table per base asset, close to the real contracts.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

import msgspec

from ssmd.simulator.market import MarketParams
from ssmd.venues.kraken_futures.wire import NULL, InstrumentWire, MarginLevelWire
from ssmd.venues.numbers import decimal_text, scaled_int_text

_SYMBOL_RE: Final = re.compile(r"^(PF|PI|FF|FI)_([A-Z0-9]+?)USD(?:_([0-9]{6}))?$")
_SECONDS_PER_YEAR: Final = 365 * 24 * 3600
_MATURITY_HOUR_UTC: Final = 15
_QUARTER_MONTHS: Final = frozenset({3, 6, 9, 12})


@dataclass(frozen=True, slots=True)
class _AssetProfile:
    price: Decimal
    tick: Decimal
    qty_decimals: int
    mean_trade_qty: Decimal


_PROFILES: Final = {
    "XBT": _AssetProfile(Decimal(65000), Decimal("0.5"), 4, Decimal("0.05")),
    "ETH": _AssetProfile(Decimal(3200), Decimal("0.1"), 3, Decimal("0.5")),
    "SOL": _AssetProfile(Decimal(150), Decimal("0.01"), 2, Decimal(5)),
    "LTC": _AssetProfile(Decimal(80), Decimal("0.01"), 2, Decimal(5)),
    "XRP": _AssetProfile(Decimal("0.6"), Decimal("0.0001"), 0, Decimal(500)),
}
_DEFAULT_PROFILE: Final = _AssetProfile(Decimal(100), Decimal("0.01"), 2, Decimal(2))
# Inverse contracts are sized in USD (1 contract = 1 USD).
_INVERSE_MEAN_CONTRACTS: Final = 5000


@dataclass(frozen=True, slots=True)
class ProductSpec:
    """One simulated product: its symbol, contract terms and number formats."""

    symbol: str
    base: str
    perpetual: bool
    inverse: bool
    tick_size: Decimal
    qty_decimals: int
    start_price: Decimal
    mean_trade_qty: Decimal
    maturity_ns: int | None

    @property
    def tick_decimals(self) -> int:
        exponent = self.tick_size.as_tuple().exponent
        assert isinstance(exponent, int)
        return max(0, -exponent)

    @property
    def tick_units(self) -> int:
        return int(self.tick_size.scaleb(self.tick_decimals))

    def price_text(self, ticks: int) -> str:
        """Plain decimal text of a price given in ticks."""
        return scaled_int_text(ticks * self.tick_units, self.tick_decimals)

    def qty_text(self, lots: int) -> str:
        """Plain decimal text of a size given in lots (10^-qty_decimals)."""
        return scaled_int_text(lots, self.qty_decimals)

    @property
    def pair(self) -> str:
        return f"{'BTC' if self.base == 'XBT' else self.base}:USD"

    @property
    def tag(self) -> str:
        if self.perpetual:
            return "perpetual"
        assert self.maturity_ns is not None
        month = datetime.fromtimestamp(self.maturity_ns / 1e9, tz=UTC).month
        return "quarter" if month in _QUARTER_MONTHS else "month"

    def market_params(
        self,
        *,
        trade_rate_per_s: float,
        depth_levels: int,
        volatility_annual: float,
        burst_multiplier: float,
        burst_probability_per_s: float,
        burst_mean_duration_s: float,
    ) -> MarketParams:
        """The synthetic process of this product, in its ticks and lots."""
        start_ticks = int(self.start_price / self.tick_size)
        vol_ticks = volatility_annual / math.sqrt(_SECONDS_PER_YEAR) * start_ticks
        return MarketParams(
            start_price_ticks=start_ticks,
            mean_trade_lots=max(1, int(self.mean_trade_qty.scaleb(self.qty_decimals))),
            volatility_ticks_per_sqrt_s=vol_ticks,
            trade_rate_per_s=trade_rate_per_s,
            depth_levels=depth_levels,
            burst_multiplier=burst_multiplier,
            burst_probability_per_s=burst_probability_per_s,
            burst_mean_duration_s=burst_mean_duration_s,
        )

    def instrument(self) -> InstrumentWire:
        """This product's entry in ``GET /instruments``."""
        raw = msgspec.Raw
        last_trading = None
        if self.maturity_ns is not None:
            moment = datetime.fromtimestamp(self.maturity_ns // 1_000_000_000, tz=UTC)
            last_trading = moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        return InstrumentWire(
            symbol=self.symbol,
            type="futures_inverse" if self.inverse else "flexible_futures",
            underlying=f"rr_{self.base.lower()}usd" if self.inverse else None,
            tickSize=raw(decimal_text(self.tick_size).encode()),
            contractSize=raw(b"1"),
            tradeable=True,
            impactMidSize=raw(b"1"),
            maxPositionSize=raw(b"1000000"),
            openingDate="2022-01-01T00:00:00.000Z",
            marginLevels=[
                MarginLevelWire(
                    numNonContractUnits=raw(b"0"),
                    initialMargin=raw(b"0.02"),
                    maintenanceMargin=raw(b"0.01"),
                )
            ],
            fundingRateCoefficient=raw(b"24") if self.perpetual else NULL,
            maxRelativeFundingRate=raw(b"0.0025") if self.perpetual else NULL,
            contractValueTradePrecision=raw(str(self.qty_decimals).encode()),
            postOnly=False,
            mtf=True,
            base="BTC" if self.base == "XBT" else self.base,
            quote="USD",
            pair=self.pair,
            lastTradingTime=last_trading,
        )


def product_spec(symbol: str) -> ProductSpec:
    """The product a symbol names; ValueError for symbols of other shapes."""
    match = _SYMBOL_RE.match(symbol.upper())
    if match is None:
        raise ValueError(f"unsupported Kraken Futures symbol {symbol!r}")
    prefix, base, date = match.groups()
    inverse = prefix in ("PI", "FI")
    perpetual = prefix in ("PF", "PI")
    maturity_ns = None
    if not perpetual:
        if date is None:
            raise ValueError(f"fixed-maturity symbol {symbol!r} needs a _<yymmdd> date")
        day = datetime.strptime(date, "%y%m%d").replace(hour=_MATURITY_HOUR_UTC, tzinfo=UTC)
        maturity_ns = int(day.timestamp()) * 1_000_000_000
    profile = _PROFILES.get(base, _DEFAULT_PROFILE)
    return ProductSpec(
        symbol=symbol.upper(),
        base=base,
        perpetual=perpetual,
        inverse=inverse,
        tick_size=profile.tick,
        qty_decimals=0 if inverse else profile.qty_decimals,
        start_price=profile.price,
        mean_trade_qty=Decimal(_INVERSE_MEAN_CONTRACTS) if inverse else profile.mean_trade_qty,
        maturity_ns=maturity_ns,
    )
