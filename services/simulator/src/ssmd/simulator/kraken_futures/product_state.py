"""One simulated Kraken Futures product: its market process rendered into venue frames.

`ProductState` owns the product's sequence numbers (one ``seq`` for the book, one for
trades, each +1 per message as on the venue), its recent trades (for ``trade_snapshot``),
its ticker statistics and funding, and turns each `SyntheticMarket` step into frames keyed
by the subscription that receives them, each with its ledger `Record`.
"""

from __future__ import annotations

import random
import uuid
from collections import deque
from typing import Final

import msgspec

from ssmd.simulator.connection import Key, Outgoing
from ssmd.simulator.kraken_futures import frames
from ssmd.simulator.kraken_futures.products import ProductSpec
from ssmd.simulator.ledger import Record
from ssmd.simulator.market import BookChange, MarketParams, SyntheticMarket, TradePrint
from ssmd.venues.kraken_futures.config import BOOK, TICKER, TICKER_LITE, TRADE
from ssmd.venues.kraken_futures.wire import NULL, TickerLiteMsg, TickerMsg, TickerWire, TradeMsg

Keyed = tuple[Key, bytes, Record | list[Record]]
"""A frame keyed by (subscription feed, product id): who receives it."""
__all__ = ["Key", "Keyed", "Outgoing", "ProductState", "trade_snapshot"]

_MS_PER_HOUR: Final = 3_600_000
_MS_PER_DAY: Final = 86_400_000
_TEXT_CACHE_MAX: Final = 1 << 16
_MAX_RELATIVE_FUNDING: Final = 0.0025
_FUNDING_NOISE: Final = 2e-6
_FUNDING_REVERSION: Final = 0.1
_PREMIUM_TO_FUNDING: Final = 1 / 8


class ProductState:
    """A product's market, sequences, recent trades and statistics; see module doc."""

    def __init__(
        self,
        spec: ProductSpec,
        params: MarketParams,
        *,
        rng: random.Random,
        funding_rng: random.Random,
        trade_snapshot_size: int,
    ) -> None:
        self.spec = spec
        self.symbol = spec.symbol
        self.market = SyntheticMarket(params, rng)
        self._rng = rng
        self._pid = spec.symbol.encode()
        self._book_key: Key = (BOOK, spec.symbol)
        self._trade_key: Key = (TRADE, spec.symbol)
        # Venue sequences are large numbers mid-stream; start somewhere, reproducibly.
        self.book_seq = rng.randint(1_000, 1_000_000)
        self.trade_seq = rng.randint(1_000, 1_000_000)
        self.skip_seq_pending = 0
        self.recent_trades: deque[TradeMsg] = deque(maxlen=trade_snapshot_size)
        self._price_text: dict[int, tuple[str, bytes]] = {}
        self._qty_text: dict[int, tuple[str, bytes]] = {}
        open_ticks = params.start_price_ticks
        self.open_ticks, self.high_ticks, self.low_ticks = open_ticks, open_ticks, open_ticks
        self.last_ticks: int | None = None
        self.volume_lots = 0
        self._funding_rng = funding_rng
        self._funding_noise = 0.0
        self.last_funding: tuple[float, float] | None = (0.0, 0.0) if spec.perpetual else None

    # -- number text ----------------------------------------------------------------------
    def price(self, ticks: int) -> tuple[str, bytes]:
        found = self._price_text.get(ticks)
        if found is None:
            if len(self._price_text) >= _TEXT_CACHE_MAX:
                self._price_text.clear()
            text = self.spec.price_text(ticks)
            found = self._price_text[ticks] = (text, text.encode())
        return found

    def qty(self, lots: int) -> tuple[str, bytes]:
        found = self._qty_text.get(lots)
        if found is None:
            if len(self._qty_text) >= _TEXT_CACHE_MAX:
                self._qty_text.clear()
            text = self.spec.qty_text(lots)
            found = self._qty_text[lots] = (text, text.encode())
        return found

    # -- the stream -----------------------------------------------------------------------
    def step(self, dt_s: float, n_events: int, ts_ms: int, out: list[Keyed]) -> None:
        """Advance the market one step and append its frames to `out`."""
        symbol = self.symbol
        for change in self.market.step(dt_s, n_events):
            price_text, price_bytes = self.price(change.price_ticks)
            qty_text, qty_bytes = self.qty(change.lots)
            if type(change) is BookChange:
                self.book_seq += 1 + self.skip_seq_pending
                self.skip_seq_pending = 0
                frame = frames.book(
                    product=self._pid,
                    side=b"buy" if change.side == "bid" else b"sell",
                    seq=self.book_seq,
                    price=price_bytes,
                    qty=qty_bytes,
                    ts_ms=ts_ms,
                )
                record = Record("data", BOOK, symbol, self.book_seq, None, price_text, qty_text)
                out.append((self._book_key, frame, record))
            else:
                assert isinstance(change, TradePrint)
                out.append(self._trade(change, ts_ms, price_text, qty_text))

    def _trade(self, change: TradePrint, ts_ms: int, price_text: str, qty_text: str) -> Keyed:
        self.trade_seq += 1
        uid = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        side = change.side
        frame = frames.trade(
            product=self._pid,
            uid=uid.encode(),
            side=side.encode(),
            seq=self.trade_seq,
            ts_ms=ts_ms,
            qty=qty_text.encode(),
            price=price_text.encode(),
        )
        self.recent_trades.appendleft(
            TradeMsg(
                product_id=self.symbol,
                uid=uid,
                side=side,
                type="fill",
                seq=self.trade_seq,
                time=ts_ms,
                qty=_text(qty_text),
                price=_text(price_text),
            )
        )
        ticks = change.price_ticks
        self.last_ticks = ticks
        self.high_ticks = max(self.high_ticks, ticks)
        self.low_ticks = min(self.low_ticks, ticks)
        self.volume_lots += change.lots
        record = Record("data", TRADE, self.symbol, self.trade_seq, uid, price_text, qty_text)
        return (self._trade_key, frame, record)

    # -- snapshots --------------------------------------------------------------------------
    def book_levels(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """(bids, asks) as (price, qty) texts, best first."""
        return (
            [(self.price(p)[0], self.qty(q)[0]) for p, q in self.market.levels("bid")],
            [(self.price(p)[0], self.qty(q)[0]) for p, q in self.market.levels("ask")],
        )

    def book_snapshot(self, ts_ms: int) -> Outgoing:
        bids, asks = self.book_levels()
        frame = frames.book_snapshot(self.symbol, self.book_seq, ts_ms, bids, asks)
        return frame, Record("data", "book_snapshot", self.symbol, self.book_seq)

    def trade_snapshot(self) -> Outgoing:
        return trade_snapshot(self.symbol, list(self.recent_trades))

    # -- tickers ----------------------------------------------------------------------------
    def _funding(self, premium: float, mid: float) -> tuple[float, float]:
        """(absolute, relative) funding rate: premium-driven, mean-reverting noise, capped."""
        noise = self._funding_noise
        noise += -_FUNDING_REVERSION * noise + self._funding_rng.gauss(0.0, _FUNDING_NOISE)
        self._funding_noise = noise
        relative = premium * _PREMIUM_TO_FUNDING + noise
        relative = max(-_MAX_RELATIVE_FUNDING, min(_MAX_RELATIVE_FUNDING, relative))
        # Linear contracts pay in quote currency per unit, inverse ones in base per USD.
        absolute = relative / mid if self.spec.inverse else relative * mid
        self.last_funding = (absolute, relative)
        return absolute, relative

    def tickers(self, ts_ms: int) -> list[Keyed]:
        """A ``ticker`` and a ``ticker_lite`` with the current book, trades and funding."""
        spec, market = self.spec, self.market
        bid, ask = market.best_bid(), market.best_ask()
        tick = float(spec.tick_size)
        index = market.fair_ticks * tick
        mid = (bid + ask) / 2 * tick if bid is not None and ask is not None else index
        premium = (mid - index) / index
        last = self.last_ticks if self.last_ticks is not None else self.open_ticks
        change = _float((last - self.open_ticks) / self.open_ticks * 100)
        premium_pct = _float(round(premium * 100, 4))
        bid_raw = _text(self.price(bid)[0]) if bid is not None else NULL
        ask_raw = _text(self.price(ask)[0]) if ask is not None else NULL
        volume = _text(self.qty(self.volume_lots)[0])
        maturity_ms = 0 if spec.maturity_ns is None else spec.maturity_ns // 1_000_000
        dtm = max(0, (maturity_ms - ts_ms) // _MS_PER_DAY) if maturity_ms else 0
        funding_rate = prediction = relative = relative_prediction = NULL
        next_funding_ms = None
        if spec.perpetual:
            absolute_f, relative_f = self._funding(premium, mid)
            funding_rate, prediction = _float(absolute_f), _float(absolute_f * 0.9)
            relative, relative_prediction = _float(relative_f), _float(relative_f * 0.9)
            next_funding_ms = (ts_ms // _MS_PER_HOUR + 1) * _MS_PER_HOUR
        top_bid = market.bids[bid] if bid is not None else 0
        top_ask = market.asks[ask] if ask is not None else 0
        ticker = TickerMsg(
            time=ts_ms,
            product_id=self.symbol,
            funding_rate=funding_rate,
            funding_rate_prediction=prediction,
            relative_funding_rate=relative,
            relative_funding_rate_prediction=relative_prediction,
            next_funding_rate_time=next_funding_ms,
            bid=bid_raw,
            ask=ask_raw,
            bid_size=_text(self.qty(top_bid)[0]),
            ask_size=_text(self.qty(top_ask)[0]),
            volume=volume,
            dtm=dtm,
            leverage="50x",
            index=_float(round(index, 8)),
            premium=premium_pct,
            last=_text(self.price(last)[0]),
            change=change,
            suspended=False,
            tag=spec.tag,
            pair=spec.pair,
            openInterest=_text(self.qty(self.volume_lots * 3 + 1)[0]),
            markPrice=_float(round(mid, 8)),
            maturityTime=maturity_ms,
            post_only=False,
            volumeQuote=_float(round(self.volume_lots * mid, 2)),
            open=_text(self.price(self.open_ticks)[0]),
            high=_text(self.price(self.high_ticks)[0]),
            low=_text(self.price(self.low_ticks)[0]),
        )
        lite = TickerLiteMsg(
            product_id=self.symbol,
            bid=bid_raw,
            ask=ask_raw,
            change=change,
            premium=premium_pct,
            volume=volume,
            tag=spec.tag,
            pair=spec.pair,
            dtm=dtm,
            maturityTime=maturity_ms,
        )
        last_text = self.price(last)[0]
        return [
            (
                (TICKER, self.symbol),
                frames.encode(ticker),
                Record("data", TICKER, self.symbol, price=last_text),
            ),
            (
                (TICKER_LITE, self.symbol),
                frames.encode(lite),
                Record("data", TICKER_LITE, self.symbol, price=last_text),
            ),
        ]

    def rest_ticker(self) -> TickerWire:
        """This product's entry in ``GET /tickers``."""
        spec, market = self.spec, self.market
        bid, ask = market.best_bid(), market.best_ask()
        last = self.last_ticks if self.last_ticks is not None else self.open_ticks
        tick = float(spec.tick_size)
        funding_rate = NULL
        if spec.perpetual and self.last_funding is not None:
            funding_rate = _float(self.last_funding[0])
        return TickerWire(
            symbol=self.symbol,
            last=_text(self.price(last)[0]),
            tag=spec.tag,
            pair=spec.pair,
            markPrice=_float(round(market.fair_ticks * tick, 8)),
            bid=_text(self.price(bid)[0]) if bid is not None else NULL,
            bidSize=_text(self.qty(market.bids[bid])[0]) if bid is not None else NULL,
            ask=_text(self.price(ask)[0]) if ask is not None else NULL,
            askSize=_text(self.qty(market.asks[ask])[0]) if ask is not None else NULL,
            vol24h=_text(self.qty(self.volume_lots)[0]),
            open24h=_text(self.price(self.open_ticks)[0]),
            high24h=_text(self.price(self.high_ticks)[0]),
            low24h=_text(self.price(self.low_ticks)[0]),
            fundingRate=funding_rate,
            suspended=False,
            indexPrice=_float(round(market.fair_ticks * tick, 8)),
            postOnly=False,
        )


def trade_snapshot(product: str, trades: list[TradeMsg]) -> Outgoing:
    """A ``trade_snapshot`` of `trades` (newest first), recorded once per trade it carries."""
    frame = frames.trade_snapshot(product, trades)
    records = [
        Record(
            "data",
            "trade_snapshot",
            product,
            t.seq,
            t.uid,
            bytes(t.price).decode(),
            bytes(t.qty).decode(),
        )
        for t in trades
    ]
    if not records:
        records = [Record("data", "trade_snapshot", product, detail="0 trades")]
    return frame, records


def _text(text: str) -> msgspec.Raw:
    return msgspec.Raw(text.encode())


def _float(value: float) -> msgspec.Raw:
    """A float printed as the venue prints it (shortest repr, exponent for tiny values)."""
    return msgspec.Raw(repr(float(value)).encode())
