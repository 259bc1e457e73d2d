"""`Gateway`: the gateway's parts built from settings and registered on a `Service`.

Owns the wiring only: the archive reader, the live stores, the venue tails, the query
objects, the FastAPI app and its uvicorn server. `register` adds the tasks (HTTP server, one
tail per venue), the readiness checks (NATS connected, archive dir readable) and the
shutdown steps (close the archive reader, drain the bus) to the service.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from fastapi import FastAPI

from ssmd.bus import Bus
from ssmd.core.clock import Clock, LiveClock
from ssmd.core.runtime import Service
from ssmd.gateway.api import create_app
from ssmd.gateway.archive import ArchiveReader
from ssmd.gateway.live import FeedBoard, RecentTrades
from ssmd.gateway.metrics import GatewayMetrics, LiveCollector
from ssmd.gateway.settings import GatewaySettings
from ssmd.gateway.tails import VenueTails
from ssmd.gateway.trades import TradeQueries
from ssmd.web import HttpServer


def archive_readable(archive_dir: Path) -> bool | str:
    """Readiness of the archive: the directory exists and can be listed."""
    if not archive_dir.is_dir():
        return f"archive dir {archive_dir} does not exist"
    if not os.access(archive_dir, os.R_OK | os.X_OK):
        return f"archive dir {archive_dir} is not readable"
    return True


class Gateway:
    """Everything one gateway process runs, built but not yet started."""

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        env: str,
        bus: Bus,
        service: Service,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or LiveClock()
        self.bus = bus
        self.metrics = GatewayMetrics(service.registry)
        self.archive = ArchiveReader(
            workers=settings.query_workers, timeout_s=settings.query_timeout_s
        )
        self.recent = RecentTrades(
            window_s=settings.tail_window_s, max_trades=settings.tail_max_trades, clock=self.clock
        )
        self.board = FeedBoard(max_rows=settings.feeds_max_entries, clock=self.clock)
        self.tails = VenueTails(
            bus,
            env,
            settings.venues,
            recent=self.recent,
            board=self.board,
            window_s=settings.tail_window_s,
            clock=self.clock,
        )
        service.registry.register(LiveCollector(self.tails, self.recent, self.board, self.clock))
        self.queries = TradeQueries(settings, self.archive, self.recent, self.clock, self.metrics)
        self.app: FastAPI = create_app(
            self.queries, self.board, self.tails, self.metrics, self.clock
        )
        self.http = HttpServer(
            self.app,
            host=settings.host,
            port=settings.port,
            graceful_timeout_s=min(10.0, settings.query_timeout_s),
        )
        self._service = service

    def register(self) -> None:
        """Add tasks, checks and shutdown steps to the service."""
        service = self._service
        archive_dir = Path(self.settings.archive_dir)

        async def archive_ready() -> bool | str:
            return archive_readable(archive_dir)

        async def close_archive() -> None:
            await asyncio.to_thread(self.archive.close)
            self.http.close()

        service.add_check("nats", self.bus.ready)
        service.add_check("archive", archive_ready)
        service.add_task("http", self.http.serve)
        self.tails.register(service)
        service.on_shutdown("bus", self.bus.drain)
        service.on_shutdown("archive", close_archive)
