"""The simulated Kraken Futures venue: products, connections, the data loop and faults.

Synthetic mode: every ``step_s`` of simulated time each product's market takes one step
(its share of ``events_per_s``); the frames of all steps due since the last wake-up go out
as one batch per connection, filtered by its subscriptions. Frames are built once per
product and shared by every subscriber; ``seq`` is per product, as on the venue, so every
client sees the same numbers. Which frames exist depends only on the seed and the number of
steps, never on wall-clock timing or on who is connected (timestamps aside): a loop that
falls behind skips time (at most ``max_catch_up_steps`` per wake-up), not events.

Replay mode: no generator; each connection gets its own replay of the capture, and a
(re)subscribe gets a snapshot of the venue's state at that replay's position in it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Final

from aiohttp import WSCloseCode, web

from ssmd.core.clock import Clock
from ssmd.simulator.connection import Connection
from ssmd.simulator.faults import FaultRequest, malformed_frame
from ssmd.simulator.kraken_futures import frames
from ssmd.simulator.kraken_futures.product_state import Keyed, Outgoing, ProductState
from ssmd.simulator.kraken_futures.products import ProductSpec, product_spec
from ssmd.simulator.kraken_futures.replay import ConnectionReplay, ReplaySource
from ssmd.simulator.ledger import Ledger, Record
from ssmd.simulator.metrics import SimulatorMetrics
from ssmd.simulator.replay_options import ReplayOptions, changed_options, replay_state
from ssmd.simulator.settings import SimulatorSettings
from ssmd.simulator.venue import LifecycleRequest
from ssmd.venues.kraken_futures.config import BOOK, HEARTBEAT, TRADE, WS_PATH

log = logging.getLogger(__name__)

_NS_PER_S: Final = 1_000_000_000
_NS_PER_MS: Final = 1_000_000
HEARTBEAT_KEY: Final = (HEARTBEAT, "")


class KrakenFuturesExchange:
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
        self._clock = clock
        self._ledger = ledger
        self._metrics = metrics
        self._fault_rng = random.Random(f"faults:{settings.seed}")
        self.replay = ReplaySource(settings.replay_path) if settings.replay_path else None
        self.replay_options = ReplayOptions(speed=settings.replay_speed)
        symbols = sorted(self.replay.products) if self.replay else settings.markets
        self.specs: dict[str, ProductSpec] = {}
        for symbol in symbols:
            try:
                self.specs[symbol] = product_spec(symbol)
            except ValueError:
                log.warning("no instrument terms for %s; served without REST entry", symbol)
        self.products: dict[str, ProductState] = {}
        if self.replay is None:
            self._build_products()
        self.product_ids: frozenset[str] = frozenset(
            self.replay.products if self.replay else self.products
        )
        self._last_tickers: dict[tuple[str, str], Outgoing] = {}
        self._connections: dict[int, Connection] = {}
        self._replays: dict[int, ConnectionReplay] = {}  # by connection id
        self._next_connection_id = 1
        self._subscription_count = 0
        self.malformed_rate = 0.0
        self._stalled_until_ns = 0
        # Simulated time of the last generated step: snapshots carry it, so a snapshot's
        # timestamp is never after the deltas that follow it.
        self.sim_ns = clock.now_ns()

    def _build_products(self) -> None:
        settings = self.settings
        share = settings.events_per_s / len(self.specs) if self.specs else 0.0
        for symbol, spec in self.specs.items():
            params = spec.market_params(
                trade_rate_per_s=share * settings.trade_share,
                depth_levels=settings.book_depth_levels,
                volatility_annual=settings.volatility_annual,
                burst_multiplier=settings.burst_volatility_multiplier,
                burst_probability_per_s=settings.burst_probability_per_s,
                burst_mean_duration_s=settings.burst_mean_duration_s,
            )
            self.products[symbol] = ProductState(
                spec,
                params,
                rng=random.Random(f"market:{settings.seed}:{symbol}"),
                funding_rng=random.Random(f"funding:{settings.seed}:{symbol}"),
                trade_snapshot_size=settings.trade_snapshot_size,
            )
        self._carry = dict.fromkeys(self.products, 0.0)

    # -- the VenueExchange protocol (ssmd.simulator.venue) ---------------------------------
    @property
    def ws_path(self) -> str:
        return WS_PATH

    @property
    def mode(self) -> str:
        return "replay" if self.replay is not None else "synthetic"

    def add_routes(self, app: web.Application) -> None:
        """``/ws/v1`` and the public REST endpoints under ``/derivatives/api/v3``."""
        # protocol and rest import this module for their app keys: import them late.
        from ssmd.simulator.kraken_futures import protocol, rest  # noqa: PLC0415

        app[protocol.EXCHANGE_KEY] = self
        app[rest.CLOCK_KEY] = self._clock
        app.router.add_get(WS_PATH, protocol.websocket_handler)
        rest.add_routes(app)

    def book_state(self, product: str) -> dict[str, object] | None:
        state = self.products.get(product.upper())
        if state is None:
            return None
        bids, asks = state.book_levels()
        return {"product": product.upper(), "seq": state.book_seq, "bids": bids, "asks": asks}

    def connection_states(self) -> list[dict[str, object]]:
        return [
            {"id": conn.id, "subscriptions": sorted(f"{f}:{p}" for f, p in conn.subscriptions)}
            for conn in self.connections
        ]

    def replay_state(self) -> dict[str, object]:
        return replay_state(self.replay, self.replay_options)

    def set_replay(self, speed: float | None, skip_lines: list[int] | None) -> None:
        self.replay_options = changed_options(self.replay, self.replay_options, speed, skip_lines)

    def lifecycle(self, request: LifecycleRequest) -> dict[str, object]:
        raise ValueError(
            f"Kraken Futures products have no lifecycle control here ({request.action} "
            f"{request.product}): perpetuals never close and fixed maturities expire by date"
        )

    # -- connections ----------------------------------------------------------------------
    @property
    def connections(self) -> list[Connection]:
        return list(self._connections.values())

    def open_connection(self, ws: web.WebSocketResponse, request: web.Request) -> Connection:
        conn = Connection(
            self._next_connection_id,
            ws,
            request,
            queue_max_batches=self.settings.send_queue_max_batches,
            ledger=self._ledger,
            clock=self._clock,
            metrics=self._metrics,
        )
        self._next_connection_id += 1
        self._connections[conn.id] = conn
        self._metrics.connections.set(len(self._connections))
        return conn

    @property
    def at_capacity(self) -> bool:
        return len(self._connections) >= self.settings.max_connections

    async def close_connection(self, conn: Connection) -> None:
        self._replays.pop(conn.id, None)
        if self._connections.pop(conn.id, None) is not None:
            self._subscription_count -= len(conn.subscriptions)
            self._metrics.subscriptions.set(self._subscription_count)
            self._metrics.connections.set(len(self._connections))
        await conn.stop()

    async def close_all(self) -> None:
        """Close every connection with a close frame (server going away)."""
        closing = [
            conn.close(WSCloseCode.GOING_AWAY, b"server shutdown") for conn in self.connections
        ]
        await asyncio.gather(*closing)

    def _slow_consumer(self, conn: Connection) -> None:
        self._ledger.record(self._clock.now_ns(), conn.id, Record("fault", "slow_consumer"))
        self._metrics.faults.labels(action="slow_consumer").inc()
        log.warning("dropping slow consumer", extra={"connection": conn.id})
        conn.abort()

    def send(self, conn: Connection, batch: list[Outgoing]) -> None:
        """Queue frames for one client, dropping it if it cannot keep up."""
        if not conn.send(batch):
            self._slow_consumer(conn)

    # -- subscriptions --------------------------------------------------------------------
    def subscribe(self, conn: Connection, feed: str, product: str) -> list[Outgoing]:
        """Subscribe; return the ack and the subscription's first frames (snapshot)."""
        key = (feed, product)
        if key not in conn.subscriptions:
            conn.subscriptions.add(key)
            self._subscription_count += 1
            self._metrics.subscriptions.set(self._subscription_count)
        ack = frames.subscribed(feed, None if feed == HEARTBEAT else product)
        items: list[Outgoing] = [
            (ack, Record("control", "subscribed", product or None, detail=feed))
        ]
        if feed == HEARTBEAT:
            return items
        if self.replay is not None:
            items.extend(self._replay_of(conn).subscribed(key))
            return items
        state = self.products[product]
        ts_ms = self.sim_ns // _NS_PER_MS
        if feed == BOOK:
            items.append(state.book_snapshot(ts_ms))
        elif feed == TRADE:
            items.append(state.trade_snapshot())
        else:
            latest = self._last_tickers.get(key)
            if latest is None:
                self._publish_tickers(state, ts_ms, [])
                latest = self._last_tickers[key]
            items.append(latest)
        return items

    def unsubscribe(self, conn: Connection, feed: str, product: str) -> bool:
        key = (feed, product)
        if key not in conn.subscriptions:
            return False
        conn.subscriptions.discard(key)
        self._subscription_count -= 1
        self._metrics.subscriptions.set(self._subscription_count)
        return True

    def _replay_of(self, conn: Connection) -> ConnectionReplay:
        """The connection's replay, started at its first subscribe."""
        replay = self._replays.get(conn.id)
        if replay is None:
            assert self.replay is not None
            replay = self._replays[conn.id] = ConnectionReplay(
                conn,
                self.replay,
                self.replay_options,
                clock=self._clock,
                start_delay_s=self.settings.replay_start_delay_s,
                wait_while_stalled=self.wait_while_stalled,
                trade_snapshot_size=self.settings.trade_snapshot_size,
            )
            conn.start_replay(replay.run)
        return replay

    # -- the data loops -------------------------------------------------------------------
    @property
    def stalled(self) -> bool:
        return self._clock.now_ns() < self._stalled_until_ns

    async def wait_while_stalled(self) -> None:
        while (remaining_ns := self._stalled_until_ns - self._clock.now_ns()) > 0:
            await self._clock.sleep(remaining_ns / _NS_PER_S)

    async def run_generator(self) -> None:
        """Generate and send synthetic data forever (synthetic mode only)."""
        settings = self.settings
        step_ns = round(settings.step_s * _NS_PER_S)
        ticker_ns = round(settings.ticker_interval_s * _NS_PER_S)
        sim_ns = self.sim_ns = self._clock.now_ns()
        next_ticker_ns = sim_ns
        while True:
            await self._clock.sleep(settings.step_s)
            now_ns = self._clock.now_ns()
            if now_ns < self._stalled_until_ns:
                sim_ns = self.sim_ns = now_ns
                continue
            due = (now_ns - sim_ns) // step_ns
            if due > settings.max_catch_up_steps:
                sim_ns = self.sim_ns = now_ns - settings.max_catch_up_steps * step_ns
                due = settings.max_catch_up_steps
            out: list[Keyed] = []
            for _ in range(due):
                sim_ns += step_ns
                self.sim_ns = sim_ns
                self.step(sim_ns, out)
                if sim_ns >= next_ticker_ns:
                    for state in self.products.values():
                        self._publish_tickers(state, sim_ns // _NS_PER_MS, out)
                    next_ticker_ns = max(next_ticker_ns + ticker_ns, sim_ns)
            if out:
                self._metrics.events_generated.inc(len(out))
                self.fan_out(out)

    def step(self, sim_ns: int, out: list[Keyed]) -> None:
        """One step of every product's market at simulated time `sim_ns`."""
        settings = self.settings
        if not self.products:
            return
        per_product = settings.events_per_s * settings.step_s / len(self.products)
        cap = max(1, settings.max_events_per_step // len(self.products))
        ts_ms = sim_ns // _NS_PER_MS
        for symbol, state in self.products.items():
            budget = per_product + self._carry[symbol]
            n_events = min(int(budget), cap)
            self._carry[symbol] = budget - int(budget)
            state.step(settings.step_s, n_events, ts_ms, out)

    def _publish_tickers(self, state: ProductState, ts_ms: int, out: list[Keyed]) -> None:
        for key, frame, record in state.tickers(ts_ms):
            self._last_tickers[key] = (frame, record)
            out.append((key, frame, record))

    def fan_out(self, out: list[Keyed]) -> None:
        """Send each frame to the connections subscribed to its key."""
        if self.malformed_rate > 0:
            out = self._with_malformed(out)
        for conn in self.connections:
            subscriptions = conn.subscriptions
            if not subscriptions:
                continue
            batch = [(frame, record) for key, frame, record in out if key in subscriptions]
            if batch:
                self.send(conn, batch)

    def _with_malformed(self, out: list[Keyed]) -> list[Keyed]:
        rng, rate = self._fault_rng, self.malformed_rate
        mixed: list[Keyed] = []
        for item in out:
            mixed.append(item)
            if rng.random() < rate:
                product = item[0][1]
                frame = malformed_frame(rng, product)
                record = Record("fault", "malformed", product, detail=frame.decode())
                mixed.append((item[0], frame, record))
                self._metrics.faults.labels(action="malformed").inc()
        return mixed

    async def run_heartbeats(self) -> None:
        """Send the heartbeat feed to its subscribers forever."""
        while True:
            await self._clock.sleep(self.settings.heartbeat_interval_s)
            if self.stalled:
                continue
            frame = frames.heartbeat(self._clock.now_ns() // _NS_PER_MS)
            record = Record("data", HEARTBEAT)
            for conn in self.connections:
                if HEARTBEAT_KEY in conn.subscriptions:
                    self.send(conn, [(frame, record)])

    # -- faults ---------------------------------------------------------------------------
    async def apply_fault(self, request: FaultRequest) -> dict[str, object]:
        """Carry out a fault (see `ssmd.simulator.faults`); ValueError if it cannot be."""
        problem = request.check()
        if problem:
            raise ValueError(problem)
        now_ns = self._clock.now_ns()
        self._metrics.faults.labels(action=request.action).inc()
        if request.action == "drop_connections":
            dropped = []
            for conn in self.connections:
                self._ledger.record(
                    now_ns, conn.id, Record("fault", request.action, detail=request.mode)
                )
                dropped.append(conn.id)
                if request.mode == "abort":
                    conn.abort()
                else:
                    await conn.close(WSCloseCode.GOING_AWAY, b"dropped by fault injection")
            return {"dropped": dropped}
        if request.action == "skip_seq":
            return self._skip_seq((request.product or "").upper(), request.count, now_ns)
        if request.action == "malformed":
            return self._malformed(request.rate, now_ns)
        assert request.seconds is not None
        self._stalled_until_ns = now_ns + round(request.seconds * _NS_PER_S)
        self._ledger.record(now_ns, None, Record("fault", "stall", detail=f"{request.seconds}s"))
        return {"stalled_until_ns": self._stalled_until_ns}

    def _skip_seq(self, product: str, count: int, now_ns: int) -> dict[str, object]:
        if product not in self.product_ids:
            raise ValueError(f"unknown product {product!r}")
        if self.replay is not None:
            for conn in self.connections:
                conn.replay_skip_book[product] = conn.replay_skip_book.get(product, 0) + count
                self._ledger.record(
                    now_ns, conn.id, Record("fault", "skip_seq", product, detail=f"next {count}")
                )
            return {"product": product, "skipped_seqs": None}
        state = self.products[product]
        first = state.book_seq + state.skip_seq_pending + 1
        state.skip_seq_pending += count
        detail = f"skipped {first}..{first + count - 1}"
        self._ledger.record(
            now_ns, None, Record("fault", "skip_seq", product, first, detail=detail)
        )
        return {"product": product, "skipped_seqs": list(range(first, first + min(count, 1000)))}

    def _malformed(self, rate: float | None, now_ns: int) -> dict[str, object]:
        if rate is not None:
            self.malformed_rate = rate
            self._ledger.record(now_ns, None, Record("fault", "malformed_rate", detail=str(rate)))
            return {"malformed_rate": rate}
        product = next(iter(sorted(self.product_ids)), "PF_XBTUSD")
        frame = malformed_frame(self._fault_rng, product)
        record = Record("fault", "malformed", product, detail=frame.decode())
        targets = self.connections
        for conn in targets:
            self.send(conn, [(frame, record)])
        return {"frame": frame.decode(), "connections": [conn.id for conn in targets]}
