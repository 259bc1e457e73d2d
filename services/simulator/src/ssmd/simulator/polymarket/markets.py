"""One simulated Polymarket binary market: one order book seen from both tokens, as frames.

The `SyntheticMarket` (cents 1..99, lots of 0.01 share) is the YES token's book. The NO
token's book is its exact mirror, as on the real CLOB where both tokens share one book: NO
bids are ``1 - YES asks`` and NO asks ``1 - YES bids``, with the same sizes. Each step's
changes are rendered in the order they happened:

* a book change -> one ``price_change`` with the YES entry and its NO mirror (``side`` BUY
  for a bid level, SELL for an ask level; NO's side is the opposite), each with the token's
  ``hash`` and ``best_bid``/``best_ask`` right after the change (no level: ``"0"`` bid,
  ``"1"`` ask);
* a trade -> ``last_trade_price`` (taker side), on the YES token, or for a seeded quarter
  of them on the NO token at ``1 - p`` with the opposite side (BUY YES at p is SELL NO at
  1 - p), then the ``price_change`` of the level it consumed;
* after the step, ``best_bid_ask`` for both tokens when the top changed (custom feature),
  and ``tick_size_change`` for both tokens when the YES midpoint entered ``< 0.04`` or
  ``> 0.96`` (0.01 -> 0.001) or left that zone (0.001 -> 0.01). Prices stay on the cent
  grid either way: only the message (and the ``tick_size`` printed in books and REST) says
  the tick changed.

``hash`` identifies the book state: a Zobrist digest (XOR of a fixed random key times the
size of every level) kept up to date in O(1) per change, salted per token; the same book
always has the same hash, so a ``book`` message, the last ``price_change`` and ``GET /book``
agree. The real venue's hash function is unpublished; only its shape (40 hex digits) is
copied.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from ssmd.simulator.ledger import Record
from ssmd.simulator.market import BookChange, MarketParams, SyntheticMarket
from ssmd.simulator.polymarket import frames
from ssmd.simulator.polymarket.frames import PRICE_BYTES, PRICE_TEXT, TICKS_PER_UNIT
from ssmd.venues.polymarket.config import (
    BEST_BID_ASK,
    BOOK,
    LAST_TRADE_PRICE,
    PRICE_CHANGE,
    TICK_SIZE_CHANGE,
)

if TYPE_CHECKING:
    from ssmd.simulator.polymarket.symbols import MarketIds
    from ssmd.simulator.settings import SimulatorSettings

Leg = Literal["yes", "no"]
Emitted = tuple[bytes, Record]
"""A message and its ledger record."""

TICK_SIZE: Final = "0.01"
FINE_TICK_SIZE: Final = "0.001"
NO_TRADE_SHARE: Final = 0.25
"""Share of trades printed on the NO token (at 1 - p, side mirrored)."""
MIN_ORDER_SIZE: Final = "5"
MEAN_TRADE_LOTS: Final = 5_000
"""50 shares: real trade sizes are mostly tens to hundreds of shares."""
VOLATILITY_TICKS_PER_SQRT_S_PER_UNIT: Final = 0.25
"""Binary prices move in probability, not in log price: ``volatility_annual`` (default 0.6)
is read as this many cents per square-root second per unit (0.15 c/sqrt(s) by default, about
9 cents an hour), lively enough for tests without pinning prices at 0 or 1."""
MIN_FAIR_TICKS: Final = 3
NO_TRADE_PRICE: Final = "0.5"
"""``last_trade_price`` printed before a token traded (the real value is undocumented)."""
_EXTREME_LOW_HALF_TICKS: Final = 8  # midpoint < 0.04
_EXTREME_HIGH_HALF_TICKS: Final = 192  # midpoint > 0.96
_HASH_MASK: Final = (1 << 160) - 1


def _hash_keys(label: str) -> tuple[int, ...]:
    rng = random.Random(f"polymarket-book-hash:{label}")
    return tuple(rng.getrandbits(128) | 1 for _ in range(TICKS_PER_UNIT + 1))


_BID_KEYS: Final = _hash_keys("bid")
_ASK_KEYS: Final = _hash_keys("ask")


def start_price_ticks(seed: int, slug: str) -> int:
    """The YES price a market starts at, from the seed and its slug (10..90 cents)."""
    digest = hashlib.sha256(f"start:{seed}:{slug}".encode()).digest()
    return 10 + int.from_bytes(digest[:8], "big") % 81


def binary_market_params(
    settings: SimulatorSettings, *, start_ticks: int, trade_rate_per_s: float
) -> MarketParams:
    """The `SyntheticMarket` of a binary market: cents 1..99, one-cent spread."""
    return MarketParams(
        start_price_ticks=start_ticks,
        mean_trade_lots=MEAN_TRADE_LOTS,
        volatility_ticks_per_sqrt_s=settings.volatility_annual
        * VOLATILITY_TICKS_PER_SQRT_S_PER_UNIT,
        trade_rate_per_s=trade_rate_per_s,
        spread_ticks=1,
        depth_levels=settings.book_depth_levels,
        burst_multiplier=settings.burst_volatility_multiplier,
        burst_probability_per_s=settings.burst_probability_per_s,
        burst_mean_duration_s=settings.burst_mean_duration_s,
        max_price_ticks=TICKS_PER_UNIT - 1,
        min_fair_ticks=MIN_FAIR_TICKS,
    )


@dataclass(frozen=True, slots=True)
class TokenBook:
    """One token's book as printed: levels (price, size) best first, top, hash."""

    asset_id: str
    bids: list[tuple[str, str]]
    asks: list[tuple[str, str]]
    best_bid: str
    best_ask: str
    hash: str


class MarketState:
    """A binary market's book, both tokens' views of it, and its frames; see module doc.

    The `SyntheticMarket` is built on first use (a catalogue of 50,000 markets costs nothing
    until a market trades or is asked for its book).
    """

    def __init__(self, ids: MarketIds, params: MarketParams, *, seed: int, now_ns: int) -> None:
        self.ids = ids
        self.params = params
        self.skip_pending = 0
        self.last_step_ns = now_ns
        self.last_trade_ticks: int | None = None
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.best_bid = 0  # 0: no bid
        self.best_ask = TICKS_PER_UNIT  # 100: no ask
        self.extreme = False
        self._seed = seed
        self._sim: SyntheticMarket | None = None
        self._venue_rng: random.Random | None = None  # trade legs and hashes, built with the book
        self._state_hash = 0
        self._top_sent = (0, TICKS_PER_UNIT)
        self._cid = ids.condition_id.encode()
        self._yes = ids.yes_token_id.encode()
        self._no = ids.no_token_id.encode()
        self._salt_yes = int(ids.yes_token_id) & _HASH_MASK
        self._salt_no = int(ids.no_token_id) & _HASH_MASK

    # -- state ------------------------------------------------------------------------------
    @property
    def sim(self) -> SyntheticMarket:
        sim = self._sim
        if sim is None:
            rng = random.Random(f"market:{self._seed}:{self.ids.slug}")
            sim = self._sim = SyntheticMarket(self.params, rng)
            self._venue_rng = random.Random(f"venue:{self._seed}:{self.ids.slug}")
            self.bids, self.asks = dict(sim.bids), dict(sim.asks)
            self.best_bid = max(self.bids, default=0)
            self.best_ask = min(self.asks, default=TICKS_PER_UNIT)
            state_hash = 0
            for price, lots in self.bids.items():
                state_hash ^= _BID_KEYS[price] * lots
            for price, lots in self.asks.items():
                state_hash ^= _ASK_KEYS[price] * lots
            self._state_hash = state_hash
            self._top_sent = (self.best_bid, self.best_ask)
            self.extreme = self._is_extreme()
        return sim

    def ensure_book(self) -> None:
        """Build the market's book now if it was never used."""
        if self._sim is None:
            self.sim  # noqa: B018 - the property builds it

    @property
    def tick_size(self) -> str:
        return FINE_TICK_SIZE if self.extreme else TICK_SIZE

    def _is_extreme(self) -> bool:
        bid, ask = self.best_bid, self.best_ask
        if bid == 0 or ask == TICKS_PER_UNIT:
            return self.extreme
        return not _EXTREME_LOW_HALF_TICKS <= bid + ask <= _EXTREME_HIGH_HALF_TICKS

    def token_hash(self, leg: Leg) -> str:
        salt = self._salt_yes if leg == "yes" else self._salt_no
        return format((self._state_hash ^ salt) & _HASH_MASK, "040x")

    # -- the stream ---------------------------------------------------------------------------
    def step(  # noqa: PLR0912, PLR0915 - the hot loop stays in one frame, no call per change
        self, dt_s: float, n_events: int, ts_ms: int, data: list[Emitted], custom: list[Emitted]
    ) -> int:
        """Advance one step; append its messages (custom-feature ones to `custom`). Returns
        the number of ``price_change`` messages left out by a pending skip (fault)."""
        changes = self.sim.step(dt_s, n_events)
        bids, asks, bid, ask, state_hash = (
            self.bids,
            self.asks,
            self.best_bid,
            self.best_ask,
            self._state_hash,
        )
        cid_text, cid, yes, no = self.ids.condition_id, self._cid, self._yes, self._no
        salt_yes, salt_no = self._salt_yes, self._salt_no
        ts = b"%d" % ts_ms
        template, price, text = frames.PRICE_CHANGE_TEMPLATE, PRICE_BYTES, PRICE_TEXT
        size_of = frames.size_text
        skipped = 0
        for change in changes:
            ticks, lots = change.price_ticks, change.lots
            if type(change) is BookChange:
                if change.side == "bid":
                    key, old = _BID_KEYS[ticks], bids.get(ticks, 0)
                    if lots:
                        bids[ticks] = lots
                        bid = max(bid, ticks)
                    else:
                        bids.pop(ticks, None)
                        if ticks == bid:
                            bid = max(bids, default=0)
                    yes_side, no_side = b"BUY", b"SELL"
                else:
                    key, old = _ASK_KEYS[ticks], asks.get(ticks, 0)
                    if lots:
                        asks[ticks] = lots
                        ask = min(ask, ticks)
                    else:
                        asks.pop(ticks, None)
                        if ticks == ask:
                            ask = min(asks, default=TICKS_PER_UNIT)
                    yes_side, no_side = b"SELL", b"BUY"
                state_hash ^= (key * old) ^ (key * lots)
                if self.skip_pending:
                    self.skip_pending -= 1
                    skipped += 1
                    continue
                size_text = size_of(lots)
                size = size_text.encode()
                frame = template % (
                    cid,
                    yes,
                    price[ticks],
                    yes_side,
                    size,
                    b"%040x" % ((state_hash ^ salt_yes) & _HASH_MASK),
                    price[bid],
                    price[ask],
                    no,
                    price[TICKS_PER_UNIT - ticks],
                    no_side,
                    size,
                    b"%040x" % ((state_hash ^ salt_no) & _HASH_MASK),
                    price[TICKS_PER_UNIT - ask],
                    price[TICKS_PER_UNIT - bid],
                    ts,
                )
                record = Record(
                    "data", PRICE_CHANGE, cid_text, None, None, text[ticks], size_text, "yes"
                )
                data.append((frame, record))
            else:
                data.append(self._trade(change.side == "buy", ticks, lots, ts))
        self.best_bid, self.best_ask = bid, ask
        self._state_hash = state_hash
        if (bid, ask) != self._top_sent:
            self._top_sent = (bid, ask)
            custom.extend(self._best_bid_ask(ts))
        extreme = self._is_extreme()
        if extreme != self.extreme:
            old_tick = self.tick_size
            self.extreme = extreme
            data.extend(self._tick_size_change(old_tick, ts_ms))
        return skipped

    def _trade(self, taker_buys: bool, ticks: int, lots: int, ts: bytes) -> Emitted:
        rng = self._venue_rng
        assert rng is not None  # built with the book, before any step
        self.last_trade_ticks = ticks
        tx = f"0x{rng.getrandbits(256):064x}"
        size_text = frames.size_text(lots)
        size = size_text.encode()
        if rng.random() < NO_TRADE_SHARE:
            asset, at, side, leg = self._no, TICKS_PER_UNIT - ticks, not taker_buys, "no"
        else:
            asset, at, side, leg = self._yes, ticks, taker_buys, "yes"
        frame = frames.LAST_TRADE_TEMPLATE % (
            self._cid,
            asset,
            PRICE_BYTES[at],
            b"BUY" if side else b"SELL",
            size,
            ts,
            tx.encode(),
        )
        cid = self.ids.condition_id
        return frame, Record(
            "data", LAST_TRADE_PRICE, cid, None, tx, PRICE_TEXT[at], size_text, leg
        )

    def _best_bid_ask(self, ts: bytes) -> list[Emitted]:
        bid, ask, cid = self.best_bid, self.best_ask, self.ids.condition_id
        spread = PRICE_BYTES[ask - bid]
        out: list[Emitted] = []
        for leg, asset, top_bid, top_ask in (
            ("yes", self._yes, bid, ask),
            ("no", self._no, TICKS_PER_UNIT - ask, TICKS_PER_UNIT - bid),
        ):
            frame = frames.BEST_BID_ASK_TEMPLATE % (
                self._cid,
                asset,
                PRICE_BYTES[top_bid],
                PRICE_BYTES[top_ask],
                spread,
                ts,
            )
            record = Record("data", BEST_BID_ASK, cid, price=PRICE_TEXT[top_bid], detail=leg)
            out.append((frame, record))
        return out

    def _tick_size_change(self, old_tick: str, ts_ms: int) -> list[Emitted]:
        new_tick, cid = self.tick_size, self.ids.condition_id
        out: list[Emitted] = []
        for leg, asset in (("yes", self.ids.yes_token_id), ("no", self.ids.no_token_id)):
            message = frames.TickSizeChangeMsg(
                market=cid,
                asset_id=asset,
                old_tick_size=old_tick,
                new_tick_size=new_tick,
                timestamp=str(ts_ms),
            )
            record = Record("data", TICK_SIZE_CHANGE, cid, price=new_tick, detail=leg)
            out.append((frames.encode(message), record))
        return out

    # -- snapshots ----------------------------------------------------------------------------
    def token_book(self, leg: Leg) -> TokenBook:
        """The token's book now, best first (the venue's truth for `book_state`)."""
        self.ensure_book()
        size = frames.size_text
        bid, ask = self.best_bid, self.best_ask
        if leg == "yes":
            bids = [(PRICE_TEXT[p], size(q)) for p, q in sorted(self.bids.items(), reverse=True)]
            asks = [(PRICE_TEXT[p], size(q)) for p, q in sorted(self.asks.items())]
            asset, top = self.ids.yes_token_id, (bid, ask)
        else:
            bids = [(PRICE_TEXT[TICKS_PER_UNIT - p], size(q)) for p, q in sorted(self.asks.items())]
            asks = [
                (PRICE_TEXT[TICKS_PER_UNIT - p], size(q))
                for p, q in sorted(self.bids.items(), reverse=True)
            ]
            asset, top = self.ids.no_token_id, (TICKS_PER_UNIT - ask, TICKS_PER_UNIT - bid)
        return TokenBook(
            asset, bids, asks, PRICE_TEXT[top[0]], PRICE_TEXT[top[1]], self.token_hash(leg)
        )

    def last_trade_price(self, leg: Leg) -> str:
        ticks = self.last_trade_ticks
        if ticks is None:
            return NO_TRADE_PRICE
        return PRICE_TEXT[ticks if leg == "yes" else TICKS_PER_UNIT - ticks]

    def book_message(self, leg: Leg, ts_ms: int) -> Emitted:
        """The ``book`` message of one token (bids ascending, asks descending, as printed)."""
        book = self.token_book(leg)
        summary = frames.OrderSummary
        message = frames.BookMsg(
            market=self.ids.condition_id,
            asset_id=book.asset_id,
            timestamp=str(ts_ms),
            hash=book.hash,
            bids=[summary(p, q) for p, q in reversed(book.bids)],
            asks=[summary(p, q) for p, q in reversed(book.asks)],
            tick_size=self.tick_size,
            last_trade_price=self.last_trade_price(leg),
        )
        return frames.encode(message), Record("data", BOOK, self.ids.condition_id, detail=leg)

    def token_price(self, leg: Leg) -> str:
        """The token's midpoint (REST ``tokens[].price``, Gamma ``outcomePrices``)."""
        self.ensure_book()
        bid, ask = self.best_bid, self.best_ask
        if bid == 0 or ask == TICKS_PER_UNIT:
            return self.last_trade_price(leg)
        if leg == "yes":
            return frames.mid_text(bid, ask)
        return frames.mid_text(TICKS_PER_UNIT - ask, TICKS_PER_UNIT - bid)
