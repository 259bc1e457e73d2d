"""What the simulator needs from a simulated venue: the `VenueExchange` protocol.

One simulator process serves one venue (``SSMD_SIMULATOR_VENUE``). `Simulator` builds that
venue's exchange with ``factory(settings, clock=, ledger=, metrics=)`` (`EXCHANGES`), lets it
add its WebSocket and REST routes to the venue server, runs its two background loops, and
routes the generic control API (``/control/...``: faults, books, connections, replay,
lifecycle) to the methods below. Everything venue-specific stays in the venue's package
(``ssmd.simulator.<venue>``); the ledger (`ssmd.simulator.ledger`) and the fault requests
(`ssmd.simulator.faults`) are shared, so tests read every venue's truth the same way.

Methods that cannot do what was asked raise `ValueError` with the reason; the control API
answers it as HTTP 400.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol

import msgspec

if TYPE_CHECKING:
    from aiohttp import web

    from ssmd.simulator.faults import FaultRequest

LifecycleAction = Literal["create", "open", "pause", "close", "determine", "settle"]


class LifecycleRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of ``POST /control/lifecycle``: move one market through its lifecycle now.

    ``create`` lists a new market (`product`) that was not served before; ``open`` activates
    it (or resumes a paused one); ``pause`` deactivates it; ``close`` stops trading;
    ``determine`` sets its `result` (``yes``/``no``; default ``yes``); ``settle`` pays out.
    """

    product: str
    action: LifecycleAction
    result: str | None = None


class VenueExchange(Protocol):
    """One simulated venue behind the simulator's HTTP server; see module doc."""

    @property
    def ws_path(self) -> str:
        """Path of the venue's WebSocket (market data) endpoint, e.g. ``/ws/v1``."""
        ...

    @property
    def product_ids(self) -> frozenset[str]:
        """The venue symbols served now (market tickers, product ids, condition ids)."""
        ...

    @property
    def mode(self) -> str:
        """``synthetic`` or ``replay`` (for the start-up log and ``/control/replay``)."""
        ...

    def add_routes(self, app: web.Application) -> None:
        """Add the venue's WebSocket and REST routes (paths as on the real venue)."""
        ...

    async def run_generator(self) -> None:
        """The synthetic data loop; runs until cancelled (returns at once in replay mode)."""
        ...

    async def run_heartbeats(self) -> None:
        """The venue's keep-alive loop (ping frames, heartbeat feed); runs until cancelled."""
        ...

    async def close_all(self) -> None:
        """Close every client connection with a close frame (1001, going away)."""
        ...

    async def apply_fault(self, request: FaultRequest) -> dict[str, object]:
        """Carry out a fault (written in the ledger); what was done, as JSON-able data."""
        ...

    def book_state(self, product: str) -> dict[str, object] | None:
        """The venue's own book of `product` (its truth): ``{"product", "seq", "bids",
        "asks"}`` with levels ``[price, size]`` best first as the venue prints them; None if
        there is no such book."""
        ...

    def connection_states(self) -> list[dict[str, object]]:
        """Open connections: ``{"id", "subscriptions": [...]}`` each."""
        ...

    def replay_state(self) -> dict[str, object]:
        """``{"enabled", "path", "frames", "products", "speed", "skip_lines"}``."""
        ...

    def set_replay(self, speed: float | None, skip_lines: list[int] | None) -> None:
        """Change the options of replays that start from now on (ValueError if not replaying)."""
        ...

    def lifecycle(self, request: LifecycleRequest) -> dict[str, object]:
        """Move a market through its lifecycle now; what was done (ValueError if it cannot)."""
        ...
