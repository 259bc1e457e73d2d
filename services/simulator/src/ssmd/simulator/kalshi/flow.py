"""The synthetic flow: which markets trade, how each step's events are spread, and tickers.

Every step has a budget of ``events_per_s * step_s`` market events (book changes and
trades). When it covers every trading market each gets its share (the remainder to markets
drawn at random); otherwise the budget's events go to markets drawn at random, so a step
costs O(events), not O(markets), with 50,000 listed markets. A market stepped after a
pause moves by the whole time since its last step. What a step produced beyond or short of
its budget (re-quotes on top, unchanged levels that are no event) is carried into the next
step's budget, so the venue emits ``events_per_s`` market events a second on average.

Each market's events are delivered to its ``orderbook_delta`` and ``trade`` subscribers
(`ssmd.simulator.kalshi.fanout`). Tickers go out from `publish_tickers`, for the markets
touched since the last call whose quote changed.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Final

from ssmd.simulator.kalshi import fanout
from ssmd.simulator.kalshi.frames import PRICE_TEXT, SecondsText
from ssmd.simulator.kalshi.markets import ORDERBOOK_DELTA, KalshiMarket, MarketEvent
from ssmd.simulator.kalshi.subscriptions import Routes, Subscription
from ssmd.venues.kalshi.config import ORDERBOOK, TICKER, TRADE

if TYPE_CHECKING:
    from ssmd.simulator.metrics import SimulatorMetrics
    from ssmd.simulator.settings import SimulatorSettings

_NS_PER_MS: Final = 1_000_000


class MarketFlow:
    """The synthetic markets' stepping and delivery; see module doc."""

    def __init__(
        self,
        settings: SimulatorSettings,
        markets: dict[str, KalshiMarket],
        routes: Routes,
        *,
        metrics: SimulatorMetrics,
        fault_rng: random.Random,
        ts_text: SecondsText,
    ) -> None:
        self._settings = settings
        self._markets = markets
        self._routes = routes
        self._metrics = metrics
        self._fault_rng = fault_rng
        self._ts_text = ts_text
        self._rng = random.Random(f"flow:{settings.seed}")
        self._per_step = settings.events_per_s * settings.step_s
        self._carry = 0.0
        self._dirty: dict[str, None] = {}  # markets touched since the last tickers
        self.trading: list[str] = []
        """Markets that trade now (active), in the order they opened."""
        self.trade_serial = 1
        self.malformed_rate = 0.0

    def set_trading(self, ticker: str, *, trading: bool) -> None:
        if trading and ticker not in self.trading:
            self.trading.append(ticker)
        elif not trading and ticker in self.trading:
            self.trading.remove(ticker)

    def forget(self, ticker: str) -> None:
        """A settled market: no more tickers for it."""
        self._dirty.pop(ticker, None)

    def _counts(self, events: int) -> dict[str, int]:
        trading, rng = self.trading, self._rng
        n_markets = len(trading)
        counts: dict[str, int]
        if events >= n_markets:
            base, extra = divmod(events, n_markets)
            counts = dict.fromkeys(trading, base)
        else:
            counts, extra = {}, events
        for _ in range(extra):
            ticker = trading[rng.randrange(n_markets)]
            counts[ticker] = counts.get(ticker, 0) + 1
        return counts

    def step(self, sim_ns: int) -> None:
        """One step of the markets at simulated time `sim_ns` (frames left in batches)."""
        cap = self._settings.max_events_per_step
        budget = self._carry + self._per_step
        events = max(0, min(int(budget), cap))
        if not self.trading:
            self._carry = 0.0  # nothing trades: no backlog either
            return
        if not events:
            self._carry = budget
            return
        routes, markets, dirty = self._routes, self._markets, self._dirty
        generated = 0
        out: list[MarketEvent] = []
        for ticker, count in self._counts(events).items():
            self.trade_serial = markets[ticker].step(sim_ns, count, out, self.trade_serial)
            dirty[ticker] = None
            if not out:
                continue
            generated += len(out)
            book = routes.for_market(ORDERBOOK, ticker)
            trades = routes.for_market(TRADE, ticker)
            if self.malformed_rate > 0:
                self._deliver_mixed(ticker, out, book, trades)
            elif book or trades:
                fanout.deliver_market(ticker, out, book, trades)
            out = []
        self._carry = max(-float(cap), min(budget - generated, float(cap)))
        self._metrics.events_generated.inc(generated)

    def _deliver_mixed(
        self,
        ticker: str,
        out: list[MarketEvent],
        book: list[Subscription],
        trades: list[Subscription],
    ) -> None:
        for event in out:
            fanout.deliver_market(ticker, [event], book, trades)
            subs = book if event[0] == ORDERBOOK_DELTA else trades
            injected = fanout.mix_malformed(subs, ticker, self._fault_rng, self.malformed_rate)
            if injected:
                self._metrics.faults.labels(action="malformed").inc(injected)

    def publish_tickers(self, sim_ns: int) -> None:
        """A ``ticker`` for each market touched since the last call whose quote changed."""
        ts_ms = sim_ns // _NS_PER_MS
        dirty, self._dirty = self._dirty, {}
        for ticker in dirty:
            subs = self._routes.for_market(TICKER, ticker)
            if not subs:
                continue
            market = self._markets[ticker]
            quote = market.quote()
            if quote == market.last_quote:
                continue
            market.last_quote = quote
            body = market.ticker_body(quote, ts_ms, self._ts_text(ts_ms))
            fanout.deliver_ticker(subs, ticker, body, PRICE_TEXT[quote.last])

    def initial_tickers(self, sub: Subscription, tickers: list[str], sim_ns: int) -> None:
        """A ``ticker`` per market now, for `sub` only (``send_initial_snapshot``)."""
        ts_ms = sim_ns // _NS_PER_MS
        for ticker in tickers:
            market = self._markets[ticker]
            quote = market.quote()
            body = market.ticker_body(quote, ts_ms, self._ts_text(ts_ms))
            fanout.deliver_ticker([sub], ticker, body, PRICE_TEXT[quote.last])
