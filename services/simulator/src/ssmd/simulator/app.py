"""`Simulator`: the venue server (WebSocket, REST, control API) and its background loops.

One process simulates one venue (``settings.venue``): `EXCHANGES` names the class of each,
built as ``factory(settings, clock=, ledger=, metrics=)`` and used only through the
`ssmd.simulator.venue.VenueExchange` protocol. The simulator owns the aiohttp server on the
venue port and two background tasks (the venue's synthetic data loop, in synthetic mode,
and its keep-alive loop). `start` serves, `stop` closes every
client with a close frame (1001, going away) and stops the tasks and the server; `wait`
returns only if a background task fails (and then raises its error), which is what the
service runtime watches. `register` wires all of this into a `Service`, whose admin
server answers /healthz, /readyz and /metrics.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Coroutine
from typing import Any, Final

from aiohttp import web
from prometheus_client import CollectorRegistry

from ssmd.core.clock import Clock, LiveClock
from ssmd.core.errors import ConfigError
from ssmd.core.runtime import Service
from ssmd.simulator import control
from ssmd.simulator.ledger import Ledger
from ssmd.simulator.metrics import SimulatorMetrics
from ssmd.simulator.settings import SimulatorSettings
from ssmd.simulator.venue import VenueExchange
from ssmd.venues.capture import CaptureFormatError

log = logging.getLogger(__name__)

EXCHANGES: Final = {
    "kraken_futures": "ssmd.simulator.kraken_futures.exchange:KrakenFuturesExchange",
    "kalshi": "ssmd.simulator.kalshi.exchange:KalshiExchange",
    "polymarket": "ssmd.simulator.polymarket.exchange:PolymarketExchange",
}
"""The exchange class of each venue, imported when that venue is served."""


def build_exchange(
    settings: SimulatorSettings, *, clock: Clock, ledger: Ledger, metrics: SimulatorMetrics
) -> VenueExchange:
    """The simulated venue of `settings.venue` (ConfigError for a bad replay file)."""
    module_name, _, class_name = EXCHANGES[settings.venue].partition(":")
    factory = getattr(importlib.import_module(module_name), class_name)
    try:
        exchange: VenueExchange = factory(settings, clock=clock, ledger=ledger, metrics=metrics)
    except CaptureFormatError as exc:
        raise ConfigError(
            f"replay file {settings.replay_path}: {exc}", fields=("replay_path",)
        ) from None
    return exchange


class Simulator:
    """The venue simulator; see module doc."""

    def __init__(
        self,
        settings: SimulatorSettings,
        *,
        clock: Clock | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or LiveClock()
        self.ledger = Ledger(settings.ledger_max_entries)
        self.metrics = SimulatorMetrics(registry if registry is not None else CollectorRegistry())
        self.exchange = build_exchange(
            settings, clock=self.clock, ledger=self.ledger, metrics=self.metrics
        )
        self.app = self._build_app()
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._failed: asyncio.Future[None] | None = None
        self.port: int | None = None

    def _build_app(self) -> web.Application:
        app = web.Application()
        app[control.EXCHANGE_KEY] = self.exchange
        app[control.LEDGER_KEY] = self.ledger
        self.exchange.add_routes(app)
        control.add_routes(app)
        return app

    @property
    def url(self) -> str:
        """``http://host:port`` of the venue server."""
        if self.port is None:
            raise RuntimeError("the simulator is not started")
        return f"http://{self.settings.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + self.exchange.ws_path

    @property
    def started(self) -> bool:
        return self._runner is not None

    async def start(self) -> None:
        """Serve the venue and start the background loops."""
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.settings.host, self.settings.port)
        await site.start()
        self._runner = runner
        sockets = getattr(site._server, "sockets", None) or []  # the bound port is only here
        self.port = sockets[0].getsockname()[1] if sockets else self.settings.port
        self._failed = asyncio.get_running_loop().create_future()
        mode = self.exchange.mode
        if mode != "replay":
            self._spawn("generator", self.exchange.run_generator())
        self._spawn("heartbeats", self.exchange.run_heartbeats())
        products = sorted(self.exchange.product_ids)
        log.info(
            "simulator serving",
            extra={
                "venue": self.settings.venue,
                "url": self.url,
                "mode": mode,
                "products": products[:50],
                "product_count": len(products),
            },
        )

    def _spawn(self, name: str, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro, name=f"simulator:{name}")
        task.add_done_callback(self._on_task_done)
        self._tasks.append(task)

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._failed is None or self._failed.done():
            return
        error = task.exception()
        if error is not None:
            self._failed.set_exception(error)
        else:
            self._failed.set_exception(RuntimeError(f"{task.get_name()} ended"))

    async def wait(self) -> None:
        """Wait until a background loop fails; raise its error (runs until cancelled)."""
        if self._failed is None:
            raise RuntimeError("the simulator is not started")
        await asyncio.shield(self._failed)

    async def stop(self) -> None:
        """Close every client cleanly, stop the loops and the server."""
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        self._tasks.clear()
        await self.exchange.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._failed is not None and not self._failed.done():
            self._failed.cancel()
        log.info("simulator stopped")

    def register(self, service: Service) -> None:
        """Run inside `service`: its task watches the loops, its shutdown stops us."""

        async def ready() -> bool | str:
            return True if self.started else "venue server not started"

        service.add_check("venue_server", ready)
        service.add_task("simulator", self.wait)
        service.on_shutdown("simulator", self.stop)

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
