"""The simulated Kalshi venue: its markets, sessions, the data loop, lifecycle and faults.

Synthetic mode: every ``step_s`` of simulated time the markets take a step
(`ssmd.simulator.kalshi.flow`: each market's events rendered once, spliced into each
subscriber's envelope), and each connection's frames of all steps due since the last
wake-up go out as one batch. A loop that falls behind skips time, not events; which events
exist depends only on the seed and the number of steps, never on who is connected. Tickers
go out every ``ticker_interval_s`` for markets whose quote changed; with
``lifecycle_interval_s`` the lifecycle walk moves one market a step per interval
(`ssmd.simulator.kalshi.lifecycle`).

Replay mode: no generator; each connection replays the capture for its subscriptions
(`ssmd.simulator.kalshi.replay`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections import deque
from typing import Final

from aiohttp import WSCloseCode, web

from ssmd.core.clock import Clock
from ssmd.simulator.connection import Connection, Outgoing
from ssmd.simulator.faults import FaultRequest
from ssmd.simulator.kalshi import rest
from ssmd.simulator.kalshi.auth import HandshakeVerifier, load_public_key
from ssmd.simulator.kalshi.catalog import EventInfo, new_event, new_market
from ssmd.simulator.kalshi.faults import apply_fault
from ssmd.simulator.kalshi.flow import MarketFlow
from ssmd.simulator.kalshi.frames import PRICE_TEXT, SecondsText, count_text
from ssmd.simulator.kalshi.lifecycle import LISTED, LifecycleDriver
from ssmd.simulator.kalshi.markets import KalshiMarket, MarketShape, RecentTrade
from ssmd.simulator.kalshi.protocol import websocket_handler
from ssmd.simulator.kalshi.replay import ConnectionReplay, ReplaySource
from ssmd.simulator.kalshi.subscriptions import Routes, Session, Subscription, TokenBucket
from ssmd.simulator.kalshi.symbols import event_ticker
from ssmd.simulator.ledger import Ledger, Record
from ssmd.simulator.metrics import SimulatorMetrics
from ssmd.simulator.replay_options import ReplayOptions, changed_options, replay_state
from ssmd.simulator.settings import SimulatorSettings
from ssmd.simulator.venue import LifecycleRequest
from ssmd.venues.kalshi.config import HEARTBEAT_PAYLOAD, ORDERBOOK, TICKER, WS_PATH

log = logging.getLogger(__name__)

_NS_PER_S: Final = 1_000_000_000
_NS_PER_MS: Final = 1_000_000
_PING_TIMEOUT_S: Final = 1.0
RECENT_TRADES_MAX: Final = 10_000
"""Trades ``GET /markets/trades`` can list (the newest; older ones are forgotten)."""


class KalshiExchange:
    """The venue behind the WebSocket and REST endpoints; see module doc."""

    def __init__(
        self,
        settings: SimulatorSettings,
        *,
        clock: Clock,
        ledger: Ledger,
        metrics: SimulatorMetrics,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.ledger = ledger
        self.metrics = metrics
        key_path = settings.kalshi_public_key_path
        self.verifier = HandshakeVerifier(
            load_public_key(key_path) if key_path else None, settings.kalshi_signature_max_age_s
        )
        self.fault_rng = random.Random(f"faults:{settings.seed}")
        self.replay = ReplaySource(settings.replay_path) if settings.replay_path else None
        self.replay_options = ReplayOptions(speed=settings.replay_speed)
        self.sim_ns = clock.now_ns()
        self.recent_trades: deque[RecentTrade] = deque(maxlen=RECENT_TRADES_MAX)
        self._ts_text = SecondsText()
        self.markets: dict[str, KalshiMarket] = {}
        self.listing: list[str] = []  # market tickers in listing order (append-only)
        self.events: dict[str, EventInfo] = {}
        self.event_listing: list[str] = []
        self.series: dict[str, list[str]] = {}  # series ticker -> its event tickers
        self.series_markets: dict[str, list[str]] = {}
        tickers = sorted(self.replay.products) if self.replay else settings.markets
        self._shape = MarketShape(
            trade_rate_per_s=settings.events_per_s / max(len(tickers), 1) * settings.trade_share,
            depth_levels=settings.book_depth_levels,
            volatility_annual=settings.volatility_annual,
            burst_multiplier=settings.burst_volatility_multiplier,
            burst_probability_per_s=settings.burst_probability_per_s,
            burst_mean_duration_s=settings.burst_mean_duration_s,
        )
        self._served: frozenset[str] | None = None
        for ticker in tickers:
            self.list_market(ticker, self.sim_ns)
        self._sessions: dict[int, Session] = {}
        self._replays: dict[int, ConnectionReplay] = {}
        self._next_connection_id = 1
        self.routes = Routes()
        self.flow = MarketFlow(
            settings,
            self.markets,
            self.routes,
            metrics=metrics,
            fault_rng=self.fault_rng,
            ts_text=self._ts_text,
        )
        if self.replay is None:
            self.flow.trading.extend(self.markets)
        self._lifecycle = LifecycleDriver(self)
        self.stalled_until_ns = 0

    # -- the venue's identity (VenueExchange) -------------------------------------------------
    @property
    def ws_path(self) -> str:
        return WS_PATH

    @property
    def product_ids(self) -> frozenset[str]:
        if self._served is None:
            self._served = frozenset(t for t, m in self.markets.items() if m.info.status in LISTED)
        return self._served

    @property
    def mode(self) -> str:
        return "replay" if self.replay is not None else "synthetic"

    def is_served(self, ticker: str) -> bool:
        """Whether `ticker` can be subscribed (listed, not finalized)."""
        market = self.markets.get(ticker)
        return market is not None and market.info.status in LISTED

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(WS_PATH, functools.partial(websocket_handler, self))
        rest.add_routes(app, self)

    # -- the catalog ----------------------------------------------------------------------
    def list_market(self, ticker: str, now_ns: int) -> tuple[KalshiMarket, EventInfo | None]:
        """List a market (and its event when new); return it and the new event if any."""
        event = self.events.get(event_ticker(ticker))
        new = event is None
        if event is None:
            event = self.events[event_ticker(ticker)] = new_event(ticker, now_ns)
            self.event_listing.append(event.event_ticker)
            self.series.setdefault(event.series_ticker, []).append(event.event_ticker)
        event.markets.append(ticker)
        self.series_markets.setdefault(event.series_ticker, []).append(ticker)
        info = new_market(ticker, event, self.settings.seed, now_ns)
        market = KalshiMarket(
            info,
            self._shape,
            seed=self.settings.seed,
            start_ns=now_ns,
            recent_trades=self.recent_trades,
            ts_text=self._ts_text,
            synthetic=self.replay is None,
        )
        self.markets[ticker] = market
        self.listing.append(ticker)
        self.markets_changed()
        return market, event if new else None

    def markets_changed(self) -> None:
        """A market was listed or settled: `product_ids` is computed again."""
        self._served = None

    # -- connections ----------------------------------------------------------------------
    @property
    def at_capacity(self) -> bool:
        return len(self._sessions) >= self.settings.max_connections

    def open_session(
        self, ws: web.WebSocketResponse, request: web.Request, *, signed: bool
    ) -> Session:
        conn = Connection(
            self._next_connection_id,
            ws,
            request,
            queue_max_batches=self.settings.send_queue_max_batches,
            ledger=self.ledger,
            clock=self.clock,
            metrics=self.metrics,
        )
        self._next_connection_id += 1
        bucket = TokenBucket(self.settings.commands_per_s, self.clock.monotonic_ns())
        session = self._sessions[conn.id] = Session(conn, signed=signed, bucket=bucket)
        conn.start_writer()
        self.metrics.connections.set(len(self._sessions))
        return session

    async def close_session(self, session: Session) -> None:
        self._replays.pop(session.conn.id, None)
        if self._sessions.pop(session.conn.id, None) is not None:
            for sub in session.subs.values():
                self.routes.remove(sub)
            session.subs.clear()
            self.metrics.subscriptions.set(self.routes.count)
            self.metrics.connections.set(len(self._sessions))
        await session.conn.stop()

    @property
    def sessions(self) -> list[Session]:
        return list(self._sessions.values())

    async def close_all(self) -> None:
        closing = [s.conn.close(WSCloseCode.GOING_AWAY, b"server shutdown") for s in self.sessions]
        await asyncio.gather(*closing)

    def send(self, session: Session, batch: list[Outgoing]) -> None:
        """Queue frames for one client, dropping it (slow consumer) if it cannot keep up."""
        if batch and not session.conn.send(batch):
            self.ledger.record(
                self.clock.now_ns(), session.conn.id, Record("fault", "slow_consumer")
            )
            self.metrics.faults.labels(action="slow_consumer").inc()
            log.warning("dropping slow consumer", extra={"connection": session.conn.id})
            session.conn.abort()

    def flush(self) -> None:
        """Queue every session's collected batch."""
        for session in self.sessions:
            if session.batch:
                batch, session.batch = session.batch, []
                self.send(session, batch)

    def record_auth_refusal(self, reason: str) -> None:
        self.ledger.record(self.clock.now_ns(), None, Record("control", "auth", detail=reason))

    # -- subscriptions (called by the protocol) -------------------------------------------------
    def add_subscription(self, sub: Subscription) -> None:
        self.routes.add(sub)
        self.metrics.subscriptions.set(self.routes.count)

    def remove_subscription(self, sub: Subscription) -> None:
        self.routes.remove(sub)
        self.metrics.subscriptions.set(self.routes.count)

    def add_markets(self, sub: Subscription, tickers: list[str]) -> list[str]:
        return self.routes.add_markets(sub, tickers)

    def delete_markets(self, sub: Subscription, tickers: list[str]) -> None:
        self.routes.delete_markets(sub, tickers)

    def initial_frames(
        self, sub: Subscription, tickers: list[str] | None, *, with_ticker: bool
    ) -> list[Outgoing]:
        """What follows a subscribe (or add_markets): snapshots, or initial tickers."""
        if self.replay is not None:
            if sub.channel == ORDERBOOK and tickers:
                return self._replay_of(sub.session).snapshots(sub, tickers, None)
            self._replay_of(sub.session)
            return []
        if sub.channel == ORDERBOOK and tickers:
            return self.snapshot_frames(sub, tickers, None)
        if sub.channel == TICKER and with_ticker:
            wanted = tickers if tickers is not None else sorted(self.product_ids)
            self.flow.initial_tickers(sub, wanted, self.sim_ns)
            batch, sub.session.batch = sub.session.batch, []
            return batch
        return []

    def snapshot_frames(
        self, sub: Subscription, tickers: list[str], command_id: int | None
    ) -> list[Outgoing]:
        """An ``orderbook_snapshot`` per market, on `sub` (carrying `command_id` if given)."""
        if self.replay is not None:
            return self._replay_of(sub.session).snapshots(sub, tickers, command_id)
        items: list[Outgoing] = []
        for ticker in tickers:
            body = self.markets[ticker].snapshot_body()
            seq = sub.next_seq()
            envelope = sub.envelope
            frame = (
                envelope.sequenced("orderbook_snapshot") % (seq, body)
                if command_id is None
                else envelope.snapshot_reply(seq, command_id, body)
            )
            detail = None if command_id is None else "get_snapshot"
            items.append((frame, Record("data", "orderbook_snapshot", ticker, seq, detail=detail)))
        return items

    def _replay_of(self, session: Session) -> ConnectionReplay:
        replay = self._replays.get(session.conn.id)
        if replay is None:
            assert self.replay is not None
            replay = self._replays[session.conn.id] = ConnectionReplay(
                session,
                self.replay,
                self.replay_options,
                clock=self.clock,
                start_delay_s=self.settings.replay_start_delay_s,
                wait_while_stalled=self.wait_while_stalled,
            )
            session.conn.start_replay(replay.run)
        return replay

    # -- the data loop --------------------------------------------------------------------
    @property
    def stalled(self) -> bool:
        return self.clock.now_ns() < self.stalled_until_ns

    async def wait_while_stalled(self) -> None:
        while (remaining_ns := self.stalled_until_ns - self.clock.now_ns()) > 0:
            await self.clock.sleep(remaining_ns / _NS_PER_S)

    async def run_generator(self) -> None:
        """Generate and send synthetic data forever (returns at once in replay mode)."""
        if self.replay is not None:
            return
        settings = self.settings
        step_ns = round(settings.step_s * _NS_PER_S)
        ticker_ns = round(settings.ticker_interval_s * _NS_PER_S)
        walk_ns = round(settings.lifecycle_interval_s * _NS_PER_S)
        sim_ns = self.sim_ns = self.clock.now_ns()
        next_ticker_ns, next_walk_ns = sim_ns, sim_ns + walk_ns
        while True:
            await self.clock.sleep(settings.step_s)
            now_ns = self.clock.now_ns()
            if now_ns < self.stalled_until_ns:
                sim_ns = self.sim_ns = now_ns
                continue
            due = (now_ns - sim_ns) // step_ns
            if due > settings.max_catch_up_steps:
                sim_ns = now_ns - settings.max_catch_up_steps * step_ns
                due = settings.max_catch_up_steps
            for _ in range(due):
                sim_ns += step_ns
                self.sim_ns = sim_ns
                self.flow.step(sim_ns)
                if sim_ns >= next_ticker_ns:
                    self.flow.publish_tickers(sim_ns)
                    next_ticker_ns = sim_ns + ticker_ns
                if walk_ns and sim_ns >= next_walk_ns:
                    self._lifecycle.walk(sim_ns)
                    next_walk_ns += walk_ns
            self.flush()

    async def run_heartbeats(self) -> None:
        """Ping every client (payload ``heartbeat``) every ``heartbeat_interval_s``."""
        while True:
            await self.clock.sleep(self.settings.heartbeat_interval_s)
            if self.stalled:
                continue
            for session in self.sessions:
                ws = session.conn.ws
                if ws.closed:
                    continue
                # A client that does not read must not hold up the others' pings.
                with contextlib.suppress(ConnectionError, RuntimeError, TimeoutError):
                    async with asyncio.timeout(_PING_TIMEOUT_S):
                        await ws.ping(HEARTBEAT_PAYLOAD)
                    self.ledger.record(
                        self.clock.now_ns(),
                        session.conn.id,
                        Record("control", "ping", detail="heartbeat"),
                    )

    # -- lifecycle ------------------------------------------------------------------------
    def lifecycle(self, request: LifecycleRequest) -> dict[str, object]:
        """Move a market one lifecycle step now (ValueError if it cannot)."""
        if self.replay is not None:
            raise ValueError("lifecycle changes need synthetic mode (not a replay)")
        ticker = request.product.upper()
        result = self._lifecycle.apply(ticker, request.action, request.result, self.sim_ns)
        self.flush()
        return result

    # -- faults and state (VenueExchange) -------------------------------------------------------
    async def apply_fault(self, request: FaultRequest) -> dict[str, object]:
        """Carry out a fault (see `ssmd.simulator.kalshi.faults`); ValueError if it cannot be."""
        return await apply_fault(self, request)

    def book_state(self, product: str) -> dict[str, object] | None:
        """The venue's book: YES bids and YES asks best first, and the wire's bid ladders."""
        market = self.markets.get(product.upper())
        if market is None or not market.synthetic:
            return None
        book = market.market
        yes, no = market.wire_levels()
        return {
            "product": market.ticker,
            "seq": market.book_seq,
            "status": market.info.status,
            "bids": _levels(book.levels("bid")),
            "asks": _levels(book.levels("ask")),
            "yes_dollars_fp": [list(level) for level in yes],
            "no_dollars_fp": [list(level) for level in no],
        }

    def connection_states(self) -> list[dict[str, object]]:
        return [
            {
                "id": session.conn.id,
                "signed": session.signed,
                "subscriptions": [
                    {
                        "sid": sub.sid,
                        "channel": sub.channel,
                        "seq": sub.seq,
                        "market_tickers": None if sub.markets is None else list(sub.markets),
                    }
                    for sub in session.subs.values()
                ],
            }
            for session in self.sessions
        ]

    def replay_state(self) -> dict[str, object]:
        return replay_state(self.replay, self.replay_options)

    def set_replay(self, speed: float | None, skip_lines: list[int] | None) -> None:
        self.replay_options = changed_options(self.replay, self.replay_options, speed, skip_lines)


def _levels(levels: list[tuple[int, int]]) -> list[list[str]]:
    """YES levels (cents, hundredths) as [``_dollars``, ``_fp``] texts."""
    return [[PRICE_TEXT[cents], count_text(lots)[0]] for cents, lots in levels]
