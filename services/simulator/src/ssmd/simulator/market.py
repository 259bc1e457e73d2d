"""A synthetic market: a regime-switching price process and an L2 book that trades consume.

Venue-agnostic and in integers: prices are ticks, sizes are lots; a venue layer prints them.
Each `step` advances simulated time by ``dt_s`` and returns the changes in the order they
happened, so a client applying them reproduces the book exactly:

* **Price**: the fair price follows a Gaussian random walk whose volatility switches between
  a calm and a burst regime (Markov switching: bursts start at a rate per second and last an
  exponential time). Bursts also double the trade intensity.
* **Quotes**: makers re-centre the touch around the fair price every step (levels that would
  cross are cancelled first, so the book is never crossed) and keep ``depth_levels`` levels
  per side (the far end is refilled, the excess trimmed).
* **Trades**: arrive as a Poisson process; the taker side leans towards where the fair price
  went; a trade takes size at the touch, so the book shows the same size leaving the level.
* **Noise**: the rest of the event budget resizes, adds or cancels levels near the touch.

All randomness comes from the `random.Random` given, so a seed fixes the whole path.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal, NamedTuple

_POISSON_EXACT_MAX_MEAN = 30.0
_NOISE_CANCEL_SHARE = 0.15
_NOISE_DISTANCE_MEAN_TICKS = 4.0
_MAX_TAKER_LEAN = 0.3
_LEVEL_TO_TRADE_SIZE = 5


class BookChange(NamedTuple):
    """A level's new absolute size; 0 removes it."""

    side: Literal["bid", "ask"]
    price_ticks: int
    lots: int


class TradePrint(NamedTuple):
    """A trade; `side` is the taker's."""

    side: Literal["buy", "sell"]
    price_ticks: int
    lots: int


MarketOutput = BookChange | TradePrint


@dataclass(frozen=True, slots=True)
class MarketParams:
    """The shape of one synthetic market (ticks, lots, per-second rates)."""

    start_price_ticks: int
    mean_trade_lots: int
    volatility_ticks_per_sqrt_s: float
    trade_rate_per_s: float
    spread_ticks: int = 1
    depth_levels: int = 25
    burst_multiplier: float = 4.0
    burst_probability_per_s: float = 0.01
    burst_mean_duration_s: float = 20.0
    max_price_ticks: int | None = None
    """Highest price a level may have (binary contracts: 99 cents); None: unbounded."""
    min_fair_ticks: int | None = None
    """Lowest fair price; None: 10 spreads (at least 10 ticks)."""


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw; exact (Knuth) for small means, normal approximation above 30."""
    if mean <= 0:
        return 0
    if mean > _POISSON_EXACT_MAX_MEAN:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:  # ends: each round multiplies by a uniform < 1
        count += 1
        product *= rng.random()
    return count


class SyntheticMarket:
    """One market's fair price, regime and book; see module doc."""

    def __init__(self, params: MarketParams, rng: random.Random) -> None:
        self.params = params
        self._rng = rng
        self.fair_ticks = float(params.start_price_ticks)
        self.burst = False
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self._min_ticks = (
            params.min_fair_ticks
            if params.min_fair_ticks is not None
            else max(10 * params.spread_ticks, 10)
        )
        cap = params.max_price_ticks
        self._max_fair = float(cap - params.spread_ticks - 1) if cap is not None else math.inf
        self._cap = cap if cap is not None else math.inf
        self._target_bid = self._target_ask = 0
        self._recenter([])
        self._refill([])

    # -- reads --------------------------------------------------------------------------
    def best_bid(self) -> int | None:
        return max(self.bids) if self.bids else None

    def best_ask(self) -> int | None:
        return min(self.asks) if self.asks else None

    def levels(self, side: Literal["bid", "ask"]) -> list[tuple[int, int]]:
        """(price ticks, lots) best first."""
        if side == "bid":
            return sorted(self.bids.items(), reverse=True)
        return sorted(self.asks.items())

    # -- the process --------------------------------------------------------------------
    def step(self, dt_s: float, n_events: int) -> list[MarketOutput]:
        """Advance `dt_s` seconds producing about `n_events` outputs (never more than
        ``n_events`` trades; structural re-quotes come on top)."""
        params, rng = self.params, self._rng
        if self.burst:
            if rng.random() < dt_s / params.burst_mean_duration_s:
                self.burst = False
        elif rng.random() < params.burst_probability_per_s * dt_s:
            self.burst = True
        vol = params.volatility_ticks_per_sqrt_s * (params.burst_multiplier if self.burst else 1)
        previous_fair = self.fair_ticks
        self.fair_ticks = min(
            max(self.fair_ticks + rng.gauss(0.0, vol * math.sqrt(dt_s)), self._min_ticks),
            self._max_fair,
        )

        out: list[MarketOutput] = []
        self._recenter(out)
        intensity = params.trade_rate_per_s * dt_s * (2.0 if self.burst else 1.0)
        lean = max(-_MAX_TAKER_LEAN, min(_MAX_TAKER_LEAN, self.fair_ticks - previous_fair))
        for _ in range(min(poisson(rng, intensity), n_events)):
            self._trade(out, buy_probability=0.5 + lean)
        for _ in range(max(0, n_events - len(out))):
            self._noise(out)
        self._refill(out)
        return out

    def _size(self, mean_lots: int) -> int:
        return max(1, int(self._rng.expovariate(1.0 / mean_lots)))

    def _level_size(self) -> int:
        return self._size(self.params.mean_trade_lots * _LEVEL_TO_TRADE_SIZE)

    def _targets(self) -> tuple[int, int]:
        bid = math.floor(self.fair_ticks - self.params.spread_ticks / 2)
        return bid, bid + self.params.spread_ticks

    def _recenter(self, out: list[MarketOutput]) -> None:
        target_bid, target_ask = self._targets()
        self._target_bid, self._target_ask = target_bid, target_ask
        for price in [p for p in self.bids if p > target_bid]:
            del self.bids[price]
            out.append(BookChange("bid", price, 0))
        for price in [p for p in self.asks if p < target_ask]:
            del self.asks[price]
            out.append(BookChange("ask", price, 0))
        if target_bid not in self.bids:
            self.bids[target_bid] = lots = self._level_size()
            out.append(BookChange("bid", target_bid, lots))
        if target_ask not in self.asks:
            self.asks[target_ask] = lots = self._level_size()
            out.append(BookChange("ask", target_ask, lots))

    def _refill(self, out: list[MarketOutput]) -> None:
        depth = self.params.depth_levels
        for side, book, sign in (("bid", self.bids, -1), ("ask", self.asks, 1)):
            if len(book) > depth:
                ordered = sorted(book, reverse=sign > 0)  # worst first
                for price in ordered[: len(book) - depth]:
                    del book[price]
                    out.append(BookChange(side, price, 0))  # type: ignore[arg-type]
            if book:
                far = min(book) if sign < 0 else max(book)
            else:
                target_bid, target_ask = self._targets()
                far = target_bid if sign < 0 else target_ask
            while len(book) < depth:
                far += sign * self._rng.randint(1, 2)
                if far <= 0 or far > self._cap:
                    break
                book[far] = lots = self._level_size()
                out.append(BookChange(side, far, lots))  # type: ignore[arg-type]

    def _trade(self, out: list[MarketOutput], *, buy_probability: float) -> None:
        buy = self._rng.random() < buy_probability
        book = self.asks if buy else self.bids
        if not book:
            return
        price = min(book) if buy else max(book)
        lots = min(book[price], self._size(self.params.mean_trade_lots))
        remaining = book[price] - lots
        if remaining:
            book[price] = remaining
        else:
            del book[price]
        out.append(TradePrint("buy" if buy else "sell", price, lots))
        out.append(BookChange("ask" if buy else "bid", price, remaining))

    def _noise(self, out: list[MarketOutput]) -> None:
        rng = self._rng
        is_bid = rng.random() < 0.5
        book = self.bids if is_bid else self.asks
        # Distances are counted from this step's quoted touch (nothing is better than it,
        # so a level placed there or behind it never crosses the book).
        touch = self._target_bid if is_bid else self._target_ask
        distance = int(rng.expovariate(1.0 / _NOISE_DISTANCE_MEAN_TICKS))
        price = touch - distance if is_bid else touch + distance
        if price <= 0 or price > self._cap:
            return
        side: Literal["bid", "ask"] = "bid" if is_bid else "ask"
        if price in book and price != touch and rng.random() < _NOISE_CANCEL_SHARE:
            del book[price]
            out.append(BookChange(side, price, 0))
            return
        book[price] = lots = self._level_size()
        out.append(BookChange(side, price, lots))
