"""One simulated Kalshi market: its YES book process rendered into Kalshi market events.

The `SyntheticMarket` is a YES book in cents (1..99) and hundredths of a contract. Kalshi
prints bids only (VENUES.md 1.7): a YES bid at p is a ``yes`` level at p, and a YES ask at
a is a ``no`` level (a NO bid) at 1 - a. The market turns each step's absolute level sizes
into ``orderbook_delta`` increments (new - old; a change that leaves a level as it was is
no event), and each trade into a ``trade`` (the taker bought YES when it lifted an ask).

Each event is a `MarketEvent`: the ``msg`` body, built once, and what its ledger records
carry; the exchange wraps it in each subscriber's envelope. The market's process, its
random trade ids and its statistics (volume, open interest, last trade) are created on
first use from a seed and the ticker, so 50,000 listed markets cost little until used.
"""

from __future__ import annotations

import math
import random
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Final, NamedTuple

from ssmd.simulator.kalshi import frames
from ssmd.simulator.kalshi.catalog import MarketInfo
from ssmd.simulator.kalshi.frames import (
    COUNT_CACHE,
    PRICE_BYTES,
    PRICE_TEXT,
    SecondsText,
    count_text,
)
from ssmd.simulator.market import BookChange, MarketParams, SyntheticMarket

ORDERBOOK_DELTA: Final = "orderbook_delta"
TRADE: Final = "trade"
_CENTS: Final = 100
_MAX_PRICE_CENTS: Final = 99
_MIN_FAIR_CENTS: Final = 3
_SECONDS_PER_YEAR: Final = 365 * 24 * 3600
_DOLLAR_UNITS: Final = 10_000  # hundredths of a contract x cents
_MEAN_TRADE_HUNDREDTHS: Final = (500, 1000, 2500, 5000)


MarketEvent = tuple[str, bytes, str | None, str | None, str | None, str | None]
"""A market event before its envelope: (type, msg body, and its ledger record's uid,
price, qty, detail). A plain tuple: millions are made a second."""


class RecentTrade(NamedTuple):
    """A trade as ``GET /markets/trades`` lists it (numbers as wire text)."""

    serial: int
    ticker: str
    trade_id: str
    count_fp: str
    yes_price: str
    no_price: str
    taker_side: str
    ts_ms: int


@dataclass(frozen=True, slots=True)
class MarketShape:
    """What every synthetic market shares (rates and regimes from the settings)."""

    trade_rate_per_s: float
    depth_levels: int
    volatility_annual: float
    burst_multiplier: float
    burst_probability_per_s: float
    burst_mean_duration_s: float


class Quote(NamedTuple):
    """What a ``ticker`` message shows (cents and hundredths)."""

    last: int
    bid: int
    ask: int
    volume: int
    open_interest: int
    bid_size: int
    ask_size: int
    last_size: int


class KalshiMarket:
    """One market's terms, book, statistics and event rendering; see module doc."""

    def __init__(
        self,
        info: MarketInfo,
        shape: MarketShape,
        *,
        seed: int,
        start_ns: int,
        recent_trades: deque[RecentTrade],
        ts_text: SecondsText,
        synthetic: bool = True,
    ) -> None:
        self.info = info
        self.ticker = info.ticker
        self.name = info.ticker.encode()
        self.market_id = info.market_id.encode()
        self._delta_template = frames.delta_template(self.name, self.market_id)
        self.synthetic = synthetic
        self.last_step_ns = start_ns
        self.book_seq = 0
        """Book changes so far (the ``seq`` of `book_state`)."""
        self.last_quote: Quote | None = None
        """The quote of the last ``ticker`` message sent."""
        self._shape = shape
        self._seed = seed
        self._recent = recent_trades
        self._ts_text = ts_text
        self._market: SyntheticMarket | None = None
        self._rng: random.Random | None = None  # the market's, once created
        self.volume = self.open_interest = self.dollar_units = 0
        self.last_cents = self.last_size = 0
        self.start_quote: Quote | None = None

    # -- the lazily created process --------------------------------------------------------
    @property
    def started(self) -> bool:
        """Whether the market's process exists yet (created on first use)."""
        return self._market is not None

    @property
    def market(self) -> SyntheticMarket:
        if self._market is None:
            self._market = self._create()
        return self._market

    def _create(self) -> SyntheticMarket:
        rng = self._rng = random.Random(f"market:{self._seed}:{self.ticker}")
        shape = self._shape
        start = rng.randint(8, 92)
        params = MarketParams(
            start_price_ticks=start,
            mean_trade_lots=rng.choice(_MEAN_TRADE_HUNDREDTHS),
            volatility_ticks_per_sqrt_s=shape.volatility_annual
            / math.sqrt(_SECONDS_PER_YEAR)
            * start,
            trade_rate_per_s=shape.trade_rate_per_s,
            spread_ticks=rng.randint(1, 3),
            depth_levels=shape.depth_levels,
            burst_multiplier=shape.burst_multiplier,
            burst_probability_per_s=shape.burst_probability_per_s,
            burst_mean_duration_s=shape.burst_mean_duration_s,
            max_price_ticks=_MAX_PRICE_CENTS,
            min_fair_ticks=_MIN_FAIR_CENTS,
        )
        market = SyntheticMarket(params, rng)
        self.volume = rng.randint(1_000, 500_000) * _CENTS
        self.open_interest = int(self.volume * rng.uniform(0.2, 0.6))
        self.dollar_units = self.volume * start
        self.last_cents, self.last_size = start, params.mean_trade_lots
        self._market = market
        self.start_quote = self.quote()
        return market

    # -- reads -----------------------------------------------------------------------------
    def quote(self) -> Quote:
        """Top of book and statistics now (prices 0 for an empty side)."""
        market = self.market
        bid, ask = market.best_bid(), market.best_ask()
        return Quote(
            self.last_cents,
            bid or 0,
            ask or 0,
            self.volume,
            self.open_interest,
            market.bids[bid] if bid is not None else 0,
            market.asks[ask] if ask is not None else 0,
            self.last_size,
        )

    def wire_levels(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """(yes, no) bids as (``_dollars``, ``_fp``) texts, ascending by price (REST order)."""
        market = self.market
        yes = [(PRICE_TEXT[p], count_text(n)[0]) for p, n in sorted(market.bids.items())]
        no = [
            (PRICE_TEXT[_CENTS - a], count_text(n)[0])
            for a, n in sorted(market.asks.items(), reverse=True)
        ]
        return yes, no

    def snapshot_body(self) -> bytes:
        yes, no = self.wire_levels()
        return frames.snapshot_body(self.ticker, self.info.market_id, yes, no)

    def ticker_body(self, quote: Quote, ts_ms: int, ts_text: bytes) -> bytes:
        return frames.ticker_body(
            market_id=self.market_id,
            ticker=self.name,
            last_cents=quote.last,
            bid_cents=quote.bid,
            ask_cents=quote.ask,
            volume=quote.volume,
            open_interest=quote.open_interest,
            dollar_volume=self.dollar_units // _DOLLAR_UNITS,
            dollar_open_interest=quote.open_interest * quote.last // _DOLLAR_UNITS,
            bid_size=quote.bid_size,
            ask_size=quote.ask_size,
            last_size=quote.last_size,
            ts_ms=ts_ms,
            ts_text=ts_text,
        )

    # -- the stream ------------------------------------------------------------------------
    def step(self, now_ns: int, n_events: int, out: list[MarketEvent], serial: int) -> int:
        """Advance to `now_ns` with about `n_events` events, appended to `out`.

        `serial` numbers trades venue-wide (``GET /markets/trades`` cursors); the next
        free one is returned.
        """
        market = self.market
        dt_s = (now_ns - self.last_step_ns) / 1e9
        self.last_step_ns = now_ns
        yes, asks = market.bids.copy(), market.asks.copy()  # sizes before the step
        template, price_bytes, price_text = self._delta_template, PRICE_BYTES, PRICE_TEXT
        counts, count = COUNT_CACHE.get, count_text
        ts_ms = now_ns // 1_000_000
        ts = self._ts_text(ts_ms)
        append = out.append
        changed = 0
        for change in market.step(dt_s, n_events):
            if type(change) is BookChange:
                price, lots = change.price_ticks, change.lots
                if change.side == "bid":
                    delta = lots - yes.get(price, 0)
                    yes[price] = lots
                    side, side_bytes = "yes", b"yes"
                else:
                    delta = lots - asks.get(price, 0)
                    asks[price] = lots
                    price = _CENTS - price
                    side, side_bytes = "no", b"no"
                if not delta:
                    continue
                changed += 1
                delta_text, delta_bytes = counts(delta) or count(delta)
                body = template % (price_bytes[price], delta_bytes, side_bytes, ts, ts_ms)
                append((ORDERBOOK_DELTA, body, None, price_text[price], delta_text, side))
            else:
                append(
                    self._trade(
                        change.side == "buy", change.price_ticks, change.lots, ts_ms, serial
                    )
                )
                serial += 1
        self.book_seq += changed
        return serial

    def _trade(
        self, taker_yes: bool, cents: int, lots: int, ts_ms: int, serial: int
    ) -> MarketEvent:
        rng = self._rng
        assert rng is not None  # the market exists: it is stepping
        bits = rng.getrandbits(128)
        trade_id = str(uuid.UUID(int=bits, version=4))
        count, count_bytes = count_text(lots)
        self.volume += lots
        self.dollar_units += lots * cents
        if bits & 1:
            self.open_interest += lots
        else:
            self.open_interest -= min(lots, self.open_interest)
        self.last_cents, self.last_size = cents, lots
        price = PRICE_TEXT[cents]
        side = "yes" if taker_yes else "no"
        self._recent.append(
            RecentTrade(
                serial, self.ticker, trade_id, count, price, PRICE_TEXT[_CENTS - cents], side, ts_ms
            )
        )
        body = frames.trade_body(
            trade_id=trade_id.encode(),
            ticker=self.name,
            yes_cents=cents,
            count=count_bytes,
            taker_yes=taker_yes,
            ts_ms=ts_ms,
        )
        return (TRADE, body, trade_id, price, count, side)
