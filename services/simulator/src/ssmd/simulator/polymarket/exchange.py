"""The simulated Polymarket venue: markets, market-channel connections, the data loop.

Synthetic mode: every ``step_s`` of simulated time the step's event budget (its share of
``events_per_s``, at most ``max_events_per_step``) is dealt round-robin over the markets
that trade: each market steps when its turn comes, over the time since its last step, so a
catalogue of 50,000 markets costs per step only what the budget buys. Each market's
messages are built once (`MarketState`) and fanned out to every connection subscribed to
either of its tokens; in a seeded half of the steps a market's messages of that step go
out as one JSON array frame, otherwise one object per frame, so clients meet both forms.
Custom-feature messages (``best_bid_ask``, ``new_market``, ``market_resolved``) reach only
connections that enabled them. Which messages exist depends only on the seed and the number
of steps, never on wall-clock timing or on who is connected (timestamps aside); a loop that
falls behind skips time (at most ``max_catch_up_steps`` per wake-up), not events. With
``lifecycle_interval_s`` > 0 the loop also walks one random market a lifecycle step per
interval (`ssmd.simulator.polymarket.lifecycle`).

Replay mode: no generator; each connection replays the capture's messages of its assets
(`ssmd.simulator.polymarket.replay`).

Faults, lifecycle moves and the control API's reads are carried out by `Operations`
(`ssmd.simulator.polymarket.operations`); the methods here only delegate to it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from aiohttp import WSCloseCode, web

from ssmd.core.clock import Clock
from ssmd.simulator.connection import Connection, Outgoing
from ssmd.simulator.ledger import Ledger, Record
from ssmd.simulator.metrics import SimulatorMetrics
from ssmd.simulator.polymarket import frames, protocol, rest
from ssmd.simulator.polymarket.catalog import Catalog, Listing
from ssmd.simulator.polymarket.markets import (
    Emitted,
    MarketState,
    binary_market_params,
    start_price_ticks,
)
from ssmd.simulator.polymarket.operations import Operations
from ssmd.simulator.polymarket.replay import ConnectionReplay, ReplaySource
from ssmd.simulator.polymarket.symbols import market_ids
from ssmd.simulator.replay_options import ReplayOptions
from ssmd.simulator.settings import SimulatorSettings
from ssmd.venues.polymarket.config import WS_MARKET_PATH

if TYPE_CHECKING:
    from ssmd.simulator.faults import FaultRequest
    from ssmd.simulator.polymarket.markets import Leg
    from ssmd.simulator.venue import LifecycleRequest, VenueExchange

log = logging.getLogger(__name__)

NS_PER_S: Final = 1_000_000_000
NS_PER_MS: Final = 1_000_000
ARRAY_STEP_SHARE: Final = 0.5
"""Share of steps whose messages go out as JSON arrays (one per market and step)."""

Keyed = tuple[str, bool, bytes, Record | list[Record]]
"""(condition id, custom-feature only, frame, records): a frame and who receives it."""


@dataclass(slots=True, eq=False)
class Subscriber:
    """A market-channel connection's subscriptions."""

    conn: Connection
    assets: set[str] = field(default_factory=set)
    markets: dict[str, int] = field(default_factory=dict)  # condition id -> tokens subscribed
    custom: bool = False


class PolymarketExchange:
    """The venue behind the market channel and REST; see module doc."""

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
        self._frame_rng = random.Random(f"frames:{settings.seed}")
        self.replay = ReplaySource(settings.replay_path) if settings.replay_path else None
        self.replay_options = ReplayOptions(speed=settings.replay_speed)
        self.sim_ns = clock.now_ns()
        self.catalog = Catalog()
        self._trading: list[Listing] = []
        self._live: list[Listing] = []
        self._product_ids: frozenset[str] | None = None  # built on demand after a listing
        self._subscribers: dict[int, Subscriber] = {}
        self._replays: dict[int, ConnectionReplay] = {}
        self._next_connection_id = 1
        self._subscription_count = 0
        self._cursor = 0
        self._carry = 0.0
        self.malformed_rate = 0.0
        self.stalled_until_ns = 0
        self._operations = Operations(self, clock=clock, ledger=ledger, metrics=metrics)
        if self.replay is None:
            for slug in settings.markets:
                self.list_market(slug)

    # -- the VenueExchange surface ----------------------------------------------------------
    @property
    def ws_path(self) -> str:
        return WS_MARKET_PATH

    @property
    def product_ids(self) -> frozenset[str]:
        """Condition ids of every listed market (or of the capture's markets)."""
        if self._product_ids is None:
            if self.replay is not None:
                self._product_ids = frozenset(self.replay.products)
            else:
                listings = self.catalog.listings
                self._product_ids = frozenset(item.ids.condition_id for item in listings)
        return self._product_ids

    @property
    def mode(self) -> str:
        return "replay" if self.replay is not None else "synthetic"

    def add_routes(self, app: web.Application) -> None:
        """The market channel at ``/ws/market``, CLOB REST at the root, Gamma under
        ``/gamma``."""
        protocol.add_routes(app, self)
        rest.add_routes(app, self)

    async def apply_fault(self, request: FaultRequest) -> dict[str, object]:
        """Carry out a fault (written in the ledger); ValueError if it cannot be."""
        return await self._operations.apply_fault(request)

    def lifecycle(self, request: LifecycleRequest) -> dict[str, object]:
        """Move a market through its lifecycle now; ValueError if it cannot move."""
        return self._operations.lifecycle(request)

    def book_state(self, product: str) -> dict[str, object] | None:
        """The venue's book of a market (condition id or slug: its YES token) or of a token
        id; None if unknown or replaying."""
        return self._operations.book_state(product)

    def connection_states(self) -> list[dict[str, object]]:
        return self._operations.connection_states()

    def replay_state(self) -> dict[str, object]:
        return self._operations.replay_state()

    def set_replay(self, speed: float | None, skip_lines: list[int] | None) -> None:
        self._operations.set_replay(speed, skip_lines)

    # -- markets ----------------------------------------------------------------------------
    def list_market(self, slug: str, *, root_slug: str | None = None) -> Listing:
        """List a new market (ValueError if the slug is taken) and let it trade."""
        settings = self.settings
        ids = market_ids(slug)
        markets = max(1, len(settings.markets), len(self._trading) + 1)
        params = binary_market_params(
            settings,
            start_ticks=start_price_ticks(settings.seed, slug),
            trade_rate_per_s=settings.events_per_s * settings.trade_share / markets,
        )
        market = MarketState(ids, params, seed=settings.seed, now_ns=self.sim_ns)
        listing = self.catalog.add(
            market, created_ms=self._clock.now_ns() // NS_PER_MS, root_slug=root_slug
        )
        self._trading.append(listing)
        self._live.append(listing)
        self._product_ids = None
        return listing

    def status_changed(self) -> None:
        """Recompute which markets trade after a lifecycle move."""
        listings = self.catalog.listings
        self._trading = [listing for listing in listings if listing.status == "open"]
        self._live = [listing for listing in listings if listing.status != "settled"]
        self.catalog.status_changed()

    @property
    def live_listings(self) -> list[Listing]:
        """Listed markets that are not settled."""
        return self._live

    def market_of_asset(self, asset: str) -> tuple[str, Listing | None, Leg | None] | None:
        """(condition id, listing, leg) of a token id the venue serves, or None."""
        if self.replay is not None:
            market = self.replay.market_of_asset.get(asset)
            return None if market is None else (market, None, None)
        found = self.catalog.by_token(asset)
        if found is None:
            return None
        return found[0].ids.condition_id, found[0], found[1]

    # -- connections ------------------------------------------------------------------------
    @property
    def subscribers(self) -> list[Subscriber]:
        return list(self._subscribers.values())

    @property
    def at_capacity(self) -> bool:
        return len(self._subscribers) >= self.settings.max_connections

    def open_connection(self, ws: web.WebSocketResponse, request: web.Request) -> Subscriber:
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
        subscriber = self._subscribers[conn.id] = Subscriber(conn)
        self._metrics.connections.set(len(self._subscribers))
        return subscriber

    async def close_connection(self, subscriber: Subscriber) -> None:
        conn = subscriber.conn
        self._replays.pop(conn.id, None)
        if self._subscribers.pop(conn.id, None) is not None:
            self._count_subscriptions(-len(subscriber.assets))
            self._metrics.connections.set(len(self._subscribers))
        await conn.stop()

    async def close_all(self) -> None:
        """Close every connection with a close frame (server going away)."""
        closing = [
            sub.conn.close(WSCloseCode.GOING_AWAY, b"server shutdown") for sub in self.subscribers
        ]
        await asyncio.gather(*closing)

    def send(self, conn: Connection, batch: list[Outgoing]) -> None:
        """Queue frames for one client, dropping it if it cannot keep up."""
        if not conn.send(batch):
            self._ledger.record(self._clock.now_ns(), conn.id, Record("fault", "slow_consumer"))
            self._metrics.faults.labels(action="slow_consumer").inc()
            log.warning("dropping slow consumer", extra={"connection": conn.id})
            conn.abort()

    def record_control(self, conn: Connection | None, event: str, detail: str | None) -> None:
        """A ledger entry for something a client asked that sent no frame."""
        conn_id = None if conn is None else conn.id
        self._ledger.record(self._clock.now_ns(), conn_id, Record("control", event, detail=detail))

    def _count_subscriptions(self, delta: int) -> None:
        self._subscription_count += delta
        self._metrics.subscriptions.set(self._subscription_count)

    # -- subscriptions ----------------------------------------------------------------------
    def subscribe(self, sub: Subscriber, assets: list[str], *, initial_dump: bool) -> str | None:
        """Add assets to a connection and queue their ``book`` dump (one array frame).

        Unknown asset ids are left out (a control entry each). Returns the reason to close
        the connection (1008) when the assets would exceed ``max_assets_per_connection``,
        in which case nothing is subscribed.
        """
        new: dict[str, tuple[str, Listing | None, Leg | None]] = {}
        for asset in assets:
            if asset in sub.assets or asset in new:
                continue
            found = self.market_of_asset(asset)
            if found is None:
                self.record_control(sub.conn, "unknown_asset", asset)
            else:
                new[asset] = found
        cap = self.settings.max_assets_per_connection
        if len(sub.assets) + len(new) > cap:
            return f"too many assets: at most {cap} per connection"
        dump: list[Emitted] = []
        ts_ms = self.sim_ns // NS_PER_MS
        for asset, (market, listing, leg) in new.items():
            sub.assets.add(asset)
            sub.markets[market] = sub.markets.get(market, 0) + 1
            if initial_dump and listing and leg and listing.status != "settled":
                dump.append(listing.market.book_message(leg, ts_ms))
        self._count_subscriptions(len(new))
        self.record_control(sub.conn, "subscribe", f"{len(new)} assets")
        if dump:
            self.send(sub.conn, [(frames.array([f for f, _ in dump]), [r for _, r in dump])])
        if self.replay is not None and new:
            self._start_replay(sub)
        return None

    def unsubscribe(self, sub: Subscriber, assets: list[str]) -> None:
        removed = 0
        for asset in assets:
            if asset not in sub.assets:
                continue
            sub.assets.discard(asset)
            removed += 1
            found = self.market_of_asset(asset)
            if found is not None:
                market = found[0]
                left = sub.markets.get(market, 0) - 1
                if left > 0:
                    sub.markets[market] = left
                else:
                    sub.markets.pop(market, None)
        self._count_subscriptions(-removed)
        self.record_control(sub.conn, "unsubscribe", f"{removed} assets")

    def _start_replay(self, sub: Subscriber) -> None:
        if sub.conn.id in self._replays:
            return
        assert self.replay is not None
        replay = self._replays[sub.conn.id] = ConnectionReplay(
            sub,
            self.replay,
            self.replay_options,
            clock=self._clock,
            start_delay_s=self.settings.replay_start_delay_s,
            wait_while_stalled=self.wait_while_stalled,
        )
        sub.conn.start_replay(replay.run)

    # -- the data loops ---------------------------------------------------------------------
    async def wait_while_stalled(self) -> None:
        while (remaining_ns := self.stalled_until_ns - self._clock.now_ns()) > 0:
            await self._clock.sleep(remaining_ns / NS_PER_S)

    async def run_generator(self) -> None:
        """Generate and send synthetic data forever (returns at once in replay mode)."""
        if self.replay is not None:
            return
        settings = self.settings
        step_ns = round(settings.step_s * NS_PER_S)
        walk_ns = round(settings.lifecycle_interval_s * NS_PER_S)
        sim_ns = self.sim_ns = self._clock.now_ns()
        next_walk_ns = sim_ns + walk_ns
        while True:
            await self._clock.sleep(settings.step_s)
            now_ns = self._clock.now_ns()
            if now_ns < self.stalled_until_ns:
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
                if walk_ns and sim_ns >= next_walk_ns:
                    self.fan_out(out)  # what came before the move goes out before it
                    out = []
                    self._operations.walk()
                    next_walk_ns = max(next_walk_ns + walk_ns, sim_ns)
            self.fan_out(out)

    def step(self, sim_ns: int, out: list[Keyed]) -> None:
        """One step at simulated time `sim_ns`: deal the event budget to trading markets."""
        trading = self._trading
        count = len(trading)
        if not count:
            return
        settings = self.settings
        budget = settings.events_per_s * settings.step_s + self._carry
        total = min(int(budget), settings.max_events_per_step)
        self._carry = budget - int(budget)
        if total <= 0:
            return
        ts_ms = sim_ns // NS_PER_MS
        as_arrays = self._frame_rng.random() < ARRAY_STEP_SHARE
        cursor = self._cursor % count
        per_market, extra = divmod(total, count)
        visited = count if per_market else total
        for offset in range(visited):
            market = trading[(cursor + offset) % count].market
            n_events = per_market + (1 if offset < extra else 0)
            self._step_market(
                market, sim_ns, n_events=n_events, ts_ms=ts_ms, as_arrays=as_arrays, out=out
            )
        self._cursor = cursor + (extra if per_market else total)

    def _step_market(
        self,
        market: MarketState,
        sim_ns: int,
        *,
        n_events: int,
        ts_ms: int,
        as_arrays: bool,
        out: list[Keyed],
    ) -> None:
        dt_s = (sim_ns - market.last_step_ns) / NS_PER_S
        market.last_step_ns = sim_ns
        data: list[Emitted] = []
        custom: list[Emitted] = []
        skipped = market.step(dt_s, n_events, ts_ms, data, custom)
        cid = market.ids.condition_id
        if skipped:
            detail = f"left out {skipped} price_change"
            record = Record("fault", "skip_seq", cid, detail=detail)
            self._ledger.record(self._clock.now_ns(), None, record)
        if as_arrays and len(data) > 1:
            out.append((cid, False, frames.array([f for f, _ in data]), [r for _, r in data]))
        else:
            out.extend([(cid, False, frame, record) for frame, record in data])
        out.extend([(cid, True, frame, record) for frame, record in custom])
        self._metrics.events_generated.inc(len(data) + len(custom))

    def fan_out(self, out: list[Keyed]) -> None:
        """Send each frame to the connections subscribed to its market."""
        if not out:
            return
        if self.malformed_rate > 0:
            out = self._operations.with_malformed(out)
        for sub in self._subscribers.values():
            markets = sub.markets
            if not markets:
                continue
            if sub.custom:
                batch = [(frame, rec) for cid, _, frame, rec in out if cid in markets]
            else:
                batch = [(frame, rec) for cid, c, frame, rec in out if not c and cid in markets]
            if batch:
                self.send(sub.conn, batch)

    def broadcast_custom(self, frame: bytes, record: Record) -> None:
        """Send a custom-feature message to every connection that enabled them."""
        for sub in self._subscribers.values():
            if sub.custom:
                self.send(sub.conn, [(frame, record)])

    async def run_heartbeats(self) -> None:
        """Nothing to send: on this venue the client keeps the connection alive (text
        ``PING``, answered ``PONG`` by the session). Runs until cancelled."""
        await asyncio.Event().wait()


if TYPE_CHECKING:
    _IS_A_VENUE: type[VenueExchange] = PolymarketExchange  # mypy checks the protocol here
