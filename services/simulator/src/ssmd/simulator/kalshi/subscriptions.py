"""Kalshi subscriptions: per-connection sessions, sids and ``seq``, and who receives what.

A `Session` is one client connection's Kalshi state: whether its handshake was signed, its
subscriptions by sid (numbered from 1 per connection), and its command rate limit (a token
bucket). A `Subscription` is one channel, the markets it covers (None: every market) and
its own ``seq``, +1 per sequenced message it is sent; a pending skip (fault injection)
makes the next number jump. `Routes` indexes subscriptions by channel and market so that
a market event finds its subscribers without scanning connections.
"""

from __future__ import annotations

from typing import Final

from ssmd.simulator.connection import Connection, Outgoing
from ssmd.simulator.kalshi.frames import Envelope

_NS_PER_S: Final = 1_000_000_000


class TokenBucket:
    """``rate_per_s`` tokens a second, holding at most ``rate_per_s`` (the burst)."""

    __slots__ = ("_capacity", "_last_ns", "_rate_per_ns", "_tokens")

    def __init__(self, rate_per_s: float, now_ns: int) -> None:
        self._capacity = max(rate_per_s, 1.0)
        self._rate_per_ns = rate_per_s / _NS_PER_S
        self._tokens = self._capacity
        self._last_ns = now_ns

    def take(self, now_ns: int) -> bool:
        """Spend one token; False when none is left (the command is refused)."""
        elapsed = max(0, now_ns - self._last_ns)
        self._last_ns = now_ns
        self._tokens = min(self._capacity, self._tokens + elapsed * self._rate_per_ns)
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


class Subscription:
    """One sid: a channel, its markets (None: all), its ``seq`` and envelope templates."""

    __slots__ = ("channel", "envelope", "markets", "seq", "session", "sid", "skip")

    def __init__(self, session: Session, sid: int, channel: str, markets: list[str] | None) -> None:
        self.session = session
        self.sid = sid
        self.channel = channel
        self.markets: dict[str, None] | None = None if markets is None else dict.fromkeys(markets)
        self.seq = 0
        self.skip = 0
        self.envelope = Envelope(sid)

    def next_seq(self) -> int:
        """The ``seq`` of the next sequenced message (jumping over skipped numbers)."""
        self.seq += 1 + self.skip
        self.skip = 0
        return self.seq

    def covers(self, ticker: str) -> bool:
        return self.markets is None or ticker in self.markets


class Session:
    """One connection's Kalshi state; see module doc."""

    __slots__ = ("batch", "bucket", "conn", "next_sid", "signed", "subs")

    def __init__(self, conn: Connection, *, signed: bool, bucket: TokenBucket) -> None:
        self.conn = conn
        self.signed = signed
        self.bucket = bucket
        self.subs: dict[int, Subscription] = {}
        self.next_sid = 1
        self.batch: list[Outgoing] = []
        """Frames collected for this connection during one fan-out."""

    def new_subscription(self, channel: str, markets: list[str] | None) -> Subscription:
        sub = Subscription(self, self.next_sid, channel, markets)
        self.subs[sub.sid] = sub
        self.next_sid += 1
        return sub


class Routes:
    """Subscriptions by channel and market, and by channel for the all-market ones."""

    def __init__(self) -> None:
        self._by_market: dict[str, dict[str, list[Subscription]]] = {}
        self._all_markets: dict[str, list[Subscription]] = {}
        self.count = 0

    def add(self, sub: Subscription) -> None:
        self.count += 1
        if sub.markets is None:
            self._all_markets.setdefault(sub.channel, []).append(sub)
        else:
            self._index(sub, list(sub.markets))

    def remove(self, sub: Subscription) -> None:
        self.count -= 1
        if sub.markets is None:
            self._all_markets.get(sub.channel, []).remove(sub)
        else:
            self._unindex(sub, list(sub.markets))

    def add_markets(self, sub: Subscription, tickers: list[str]) -> list[str]:
        """Add markets to a filtered subscription; return the ones that were new."""
        assert sub.markets is not None
        new = [t for t in dict.fromkeys(tickers) if t not in sub.markets]
        sub.markets.update(dict.fromkeys(new))
        self._index(sub, new)
        return new

    def delete_markets(self, sub: Subscription, tickers: list[str]) -> None:
        assert sub.markets is not None
        gone = [t for t in dict.fromkeys(tickers) if t in sub.markets]
        for ticker in gone:
            del sub.markets[ticker]
        self._unindex(sub, gone)

    def drop_market(self, ticker: str) -> None:
        """A settled market leaves every subscription."""
        for by_ticker in self._by_market.values():
            for sub in by_ticker.pop(ticker, []):
                if sub.markets is not None:
                    sub.markets.pop(ticker, None)

    def for_market(self, channel: str, ticker: str) -> list[Subscription]:
        """Subscriptions of `channel` that cover `ticker`."""
        listed = self._by_market.get(channel, {}).get(ticker)
        every = self._all_markets.get(channel)
        if listed and every:
            return listed + every
        return listed or every or []

    def has_any(self, channel: str) -> bool:
        """Whether any subscription of `channel` exists (events are built only then)."""
        return bool(self._all_markets.get(channel)) or bool(self._by_market.get(channel))

    def all_of(self, channel: str) -> list[Subscription]:
        """The all-market subscriptions of `channel` (lifecycle subscriptions are all such)."""
        return self._all_markets.get(channel, [])

    def _index(self, sub: Subscription, tickers: list[str]) -> None:
        by_ticker = self._by_market.setdefault(sub.channel, {})
        for ticker in tickers:
            by_ticker.setdefault(ticker, []).append(sub)

    def _unindex(self, sub: Subscription, tickers: list[str]) -> None:
        by_ticker = self._by_market.get(sub.channel, {})
        for ticker in tickers:
            subs = by_ticker.get(ticker)
            if subs is not None and sub in subs:
                subs.remove(sub)
                if not subs:
                    del by_ticker[ticker]
