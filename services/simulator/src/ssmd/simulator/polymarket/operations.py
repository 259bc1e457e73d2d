"""What the control API asks of the simulated Polymarket venue: faults, lifecycle, reads.

Faults (`ssmd.simulator.faults.FaultRequest`), each written in the ledger (kind ``fault``):

* ``drop_connections``: every connection is aborted (TCP) or closed with a close frame.
* ``skip_seq``: this venue has no sequence numbers; for ``product`` (a condition id, slug
  or token id) the next ``count`` ``price_change`` messages of that market are not sent
  while its book keeps changing, so clients' books diverge and the ``best_bid``/
  ``best_ask`` of later changes disagree with them: that is how a client must detect the
  gap (and re-subscribe for a fresh ``book``). A second entry is written when the
  messages are actually left out.
* ``malformed``: one malformed frame to every connection now, or, with ``rate``, after
  each data frame with that probability (`frames.malformed_frame`).
* ``stall``: no data for ``seconds``; connections stay open.

Lifecycle moves (`ssmd.simulator.polymarket.lifecycle`) and the automatic walk, the venue's
book of a market (`book_state`), the connections and the replay options.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Final

from aiohttp import WSCloseCode

from ssmd.simulator.ledger import Record
from ssmd.simulator.polymarket import frames, lifecycle
from ssmd.simulator.polymarket.symbols import MAX_SLUG_LENGTH, normalize_markets
from ssmd.simulator.replay_options import changed_options, replay_state
from ssmd.simulator.venue import LifecycleRequest
from ssmd.venues.polymarket.config import MARKET_RESOLVED, NEW_MARKET

if TYPE_CHECKING:
    from ssmd.core.clock import Clock
    from ssmd.simulator.faults import FaultRequest
    from ssmd.simulator.ledger import Ledger
    from ssmd.simulator.metrics import SimulatorMetrics
    from ssmd.simulator.polymarket.catalog import Listing
    from ssmd.simulator.polymarket.exchange import Keyed, PolymarketExchange
    from ssmd.simulator.polymarket.markets import Emitted, Leg

_NS_PER_S: Final = 1_000_000_000
_NS_PER_MS: Final = 1_000_000
_PLACEHOLDER_ASSET: Final = "0"  # a malformed frame about a market the catalogue lacks


class Operations:
    """Faults, lifecycle moves and reads of one exchange; see module doc."""

    def __init__(
        self,
        exchange: PolymarketExchange,
        *,
        clock: Clock,
        ledger: Ledger,
        metrics: SimulatorMetrics,
    ) -> None:
        self._exchange = exchange
        self._clock = clock
        self._ledger = ledger
        self._metrics = metrics
        seed = exchange.settings.seed
        self._fault_rng = random.Random(f"faults:{seed}")
        self._walk_rng = random.Random(f"lifecycle:{seed}")
        self._generation = 0

    # -- faults -----------------------------------------------------------------------------
    async def apply_fault(self, request: FaultRequest) -> dict[str, object]:
        problem = request.check()
        if problem:
            raise ValueError(problem)
        exchange, now_ns = self._exchange, self._clock.now_ns()
        if request.action == "drop_connections":
            dropped = []
            for sub in exchange.subscribers:
                conn = sub.conn
                self._ledger.record(
                    now_ns, conn.id, Record("fault", request.action, detail=request.mode)
                )
                dropped.append(conn.id)
                if request.mode == "abort":
                    conn.abort()
                else:
                    await conn.close(WSCloseCode.GOING_AWAY, b"dropped by fault injection")
            result: dict[str, object] = {"dropped": dropped}
        elif request.action == "skip_seq":
            result = self._skip(request.product or "", request.count, now_ns)
        elif request.action == "malformed":
            result = self._malformed_now(request.rate, now_ns)
        else:
            assert request.seconds is not None
            exchange.stalled_until_ns = now_ns + round(request.seconds * _NS_PER_S)
            record = Record("fault", "stall", detail=f"{request.seconds}s")
            self._ledger.record(now_ns, None, record)
            result = {"stalled_until_ns": exchange.stalled_until_ns}
        self._metrics.faults.labels(action=request.action).inc()
        return result

    def _skip(self, product: str, count: int, now_ns: int) -> dict[str, object]:
        exchange = self._exchange
        detail = f"next {count} price_change"
        if exchange.replay is not None:
            market = product.lower()
            if market not in exchange.product_ids:
                raise ValueError(f"unknown market {product!r}")
            for sub in exchange.subscribers:
                skip = sub.conn.replay_skip_book
                skip[market] = skip.get(market, 0) + count
                self._ledger.record(
                    now_ns, sub.conn.id, Record("fault", "skip_seq", market, detail=detail)
                )
            return {"product": market, "skipped_price_changes": count}
        listing = exchange.catalog.find(product)
        if listing is None:
            raise ValueError(f"unknown market {product!r}")
        market = listing.ids.condition_id
        listing.market.skip_pending += count
        self._ledger.record(now_ns, None, Record("fault", "skip_seq", market, detail=detail))
        return {"product": market, "skipped_price_changes": count}

    def malformed(self, market: str) -> Emitted:
        """A malformed frame about `market` and its ledger record."""
        exchange = self._exchange
        listing = exchange.catalog.by_condition(market)
        token = listing.ids.yes_token_id if listing is not None else _PLACEHOLDER_ASSET
        frame = frames.malformed_frame(
            self._fault_rng, market, token, exchange.sim_ns // _NS_PER_MS
        )
        return frame, Record("fault", "malformed", market, detail=frame.decode())

    def with_malformed(self, out: list[Keyed]) -> list[Keyed]:
        """`out` with a malformed frame after each frame, at the malformed rate."""
        rng, rate = self._fault_rng, self._exchange.malformed_rate
        mixed: list[Keyed] = []
        for item in out:
            mixed.append(item)
            if rng.random() < rate:
                frame, record = self.malformed(item[0])
                mixed.append((item[0], False, frame, record))
                self._metrics.faults.labels(action="malformed").inc()
        return mixed

    def _malformed_now(self, rate: float | None, now_ns: int) -> dict[str, object]:
        exchange = self._exchange
        if rate is not None:
            exchange.malformed_rate = rate
            self._ledger.record(now_ns, None, Record("fault", "malformed_rate", detail=str(rate)))
            return {"malformed_rate": rate}
        market = min(exchange.product_ids, default="0x")
        frame, record = self.malformed(market)
        targets = exchange.subscribers
        for sub in targets:
            exchange.send(sub.conn, [(frame, record)])
        return {"frame": frame.decode(), "connections": [sub.conn.id for sub in targets]}

    # -- lifecycle --------------------------------------------------------------------------
    def lifecycle(self, request: LifecycleRequest) -> dict[str, object]:
        exchange = self._exchange
        if exchange.replay is not None:
            raise ValueError("lifecycle moves need synthetic markets, not a replay")
        now_ns = self._clock.now_ns()
        now_ms = now_ns // _NS_PER_MS
        if request.action == "create":
            listing = self._create(normalize_markets([request.product])[0], None, now_ms)
        else:
            found = exchange.catalog.find(request.product)
            if found is None:
                raise ValueError(f"unknown market {request.product!r}")
            listing = found
            lifecycle.transition(listing, request.action, request.result, now_ms)
            if request.action == "open":
                listing.market.last_step_ns = exchange.sim_ns  # no catch-up for the pause
            exchange.status_changed()
            if listing.status == "settled":
                frame = lifecycle.market_resolved_message(listing, now_ms)
                record = Record("data", MARKET_RESOLVED, listing.ids.condition_id)
                exchange.broadcast_custom(frame, record)
        market = listing.ids.condition_id
        detail = f"{request.action}: {listing.status}"
        self._ledger.record(now_ns, None, Record("control", "lifecycle", market, detail=detail))
        return {
            "product": market,
            "slug": listing.ids.slug,
            "action": request.action,
            "status": listing.status,
            "result": listing.result,
            "token_ids": list(listing.ids.token_ids),
        }

    def _create(self, slug: str, root_slug: str | None, now_ms: int) -> Listing:
        exchange = self._exchange
        listing = exchange.list_market(slug, root_slug=root_slug)
        frame = lifecycle.new_market_message(listing, now_ms)
        exchange.broadcast_custom(frame, Record("data", NEW_MARKET, listing.ids.condition_id))
        return listing

    def walk(self) -> None:
        """Move one random market that is not settled one lifecycle step; list a new market
        in place of one that settles."""
        live = self._exchange.live_listings
        if not live:
            return
        listing = self._walk_rng.choice(live)
        action = lifecycle.walk_action(listing)
        self.lifecycle(LifecycleRequest(product=listing.ids.condition_id, action=action))
        if action == "settle":
            root = listing.root_slug[: MAX_SLUG_LENGTH - 12]
            while True:
                self._generation += 1
                slug = lifecycle.replacement_slug(root, self._generation)
                if self._exchange.catalog.by_slug(slug) is None:
                    break
            now_ns = self._clock.now_ns()
            created = self._create(slug, root, now_ns // _NS_PER_MS)
            detail = f"create: {created.status}"
            record = Record("control", "lifecycle", created.ids.condition_id, detail=detail)
            self._ledger.record(now_ns, None, record)

    # -- reads ------------------------------------------------------------------------------
    def book_state(self, product: str) -> dict[str, object] | None:
        exchange = self._exchange
        if exchange.replay is not None:
            return None
        token = exchange.catalog.by_token(product)
        leg: Leg = "yes"
        if token is not None:
            listing, leg = token
        else:
            found = exchange.catalog.find(product)
            if found is None:
                return None
            listing = found
        book = listing.market.token_book(leg)
        return {
            "product": listing.ids.condition_id,
            "asset_id": book.asset_id,
            "seq": None,
            "hash": book.hash,
            "tick_size": listing.market.tick_size,
            "status": listing.status,
            "bids": [[price, size] for price, size in book.bids],
            "asks": [[price, size] for price, size in book.asks],
        }

    def connection_states(self) -> list[dict[str, object]]:
        return [
            {
                "id": sub.conn.id,
                "subscriptions": sorted(sub.assets),
                "markets": sorted(sub.markets),
                "custom_feature_enabled": sub.custom,
            }
            for sub in self._exchange.subscribers
        ]

    def replay_state(self) -> dict[str, object]:
        exchange = self._exchange
        return replay_state(exchange.replay, exchange.replay_options)

    def set_replay(self, speed: float | None, skip_lines: list[int] | None) -> None:
        exchange = self._exchange
        exchange.replay_options = changed_options(
            exchange.replay, exchange.replay_options, speed, skip_lines
        )
