"""`Secmaster`: the service's parts built from settings and registered on a `Service`.

`Secmaster.open` does the start-up I/O in order: the Postgres pool and the schema's
migrations, the NATS connection, the ``SECMASTER`` stream (file storage, kept forever,
10 min duplicate window), the Valkey cache client. The constructor then builds the parts:
the outbox relay, the MarketStatus follower, the cache invalidator, the venue sync runner,
the lookups, symbology and the FastAPI app on its uvicorn server. `register` adds them to
the service as tasks, the readiness checks (Postgres answers, NATS connected, every venue
synced at least once) and the shutdown steps (close HTTP clients and the cache, drain the
bus, close the pool: in that order, after the tasks were cancelled).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Final

import aiohttp

import ssmd.secmaster
from ssmd.bus import Bus, BusSettings, connect, provision
from ssmd.core.clock import Clock, LiveClock
from ssmd.core.runtime import Service
from ssmd.db import DbSettings, Pool, create_pool_from_settings, migrate, translate_errors
from ssmd.secmaster.api import create_app
from ssmd.secmaster.cache import CacheInvalidator, LookupCache
from ssmd.secmaster.metrics import SecmasterMetrics
from ssmd.secmaster.queries import Lookups
from ssmd.secmaster.relay import OutboxRelay, secmaster_stream_spec
from ssmd.secmaster.settings import SecmasterSettings
from ssmd.secmaster.status import StatusFollower
from ssmd.secmaster.symbology import Symbology
from ssmd.secmaster.sync import SyncRunner
from ssmd.web import HttpServer

SCHEMA: Final = "secmaster"
MIGRATIONS_DIR: Final = Path(ssmd.secmaster.__file__).parent / "migrations"
_GRACEFUL_HTTP_S: Final = 10.0


async def postgres_ready(pool: Pool) -> bool | str:
    """Readiness of Postgres: a trivial query answers."""
    with translate_errors("readiness query"):
        await pool.fetchval("SELECT 1")
    return True


async def venues_synced(pool: Pool, venues: tuple[str, ...]) -> bool | str:
    """Readiness of the data: every synced venue has applied at least one sync."""
    with translate_errors("reading sync runs"):
        rows = await pool.fetch(
            "SELECT DISTINCT venue FROM sync_runs WHERE state = 'applied' AND venue = ANY($1)",
            list(venues),
        )
    missing = sorted(set(venues) - {row["venue"] for row in rows})
    return f"no completed sync yet of {', '.join(missing)}" if missing else True


class Secmaster:
    """Everything one secmaster process runs, built but not yet started."""

    def __init__(
        self,
        settings: SecmasterSettings,
        *,
        env: str,
        pool: Pool,
        bus: Bus,
        service: Service,
        venues: frozenset[str],
        http: aiohttp.ClientSession,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.env = env
        self.pool = pool
        self.bus = bus
        self.clock = clock or LiveClock()
        self.metrics = SecmasterMetrics(service.registry)
        cache_url = settings.cache_url.get_secret_value() if settings.cache_url else None
        self.cache = LookupCache(cache_url, ttl_s=settings.cache_ttl_s, metrics=self.metrics)
        self.relay = OutboxRelay(
            pool,
            bus,
            batch=settings.relay_batch,
            idle_s=settings.relay_idle_s,
            metrics=self.metrics,
            clock=self.clock,
        )
        self.status = StatusFollower(
            pool, bus, env=env, venues=settings.venues, clock=self.clock, metrics=self.metrics
        )
        self.invalidator = CacheInvalidator(bus, self.cache, env=env)
        self.http_client = http
        self.sync = SyncRunner(pool, settings, http=self.http_client, clock=self.clock)
        self.lookups = Lookups(pool, self.cache, venues)
        self.symbology = Symbology(
            pool, self.cache, self.metrics, min_score=settings.matcher_min_score
        )
        self.app = create_app(self.lookups, self.symbology, self.sync, self.metrics)
        self.http = HttpServer(
            self.app, host=settings.host, port=settings.port, graceful_timeout_s=_GRACEFUL_HTTP_S
        )
        self._service = service

    @classmethod
    async def open(
        cls,
        settings: SecmasterSettings,
        *,
        env: str,
        db: DbSettings,
        bus_settings: BusSettings,
        service: Service,
        clock: Clock | None = None,
    ) -> Secmaster:
        """Connect to Postgres (migrating the schema) and NATS (provisioning SECMASTER)."""
        pool = await create_pool_from_settings(db, schema=SCHEMA)
        bus: Bus | None = None
        http = aiohttp.ClientSession()
        try:
            await migrate(pool, schema=SCHEMA, migrations_dir=MIGRATIONS_DIR)
            with translate_errors("reading venues"):
                venues = frozenset(
                    row["venue"] for row in await pool.fetch("SELECT venue FROM venues")
                )
            bus = await connect(bus_settings, registry=service.registry)
            await provision(bus, streams=[secmaster_stream_spec()])
            return cls(
                settings,
                env=env,
                pool=pool,
                bus=bus,
                service=service,
                venues=venues,
                http=http,
                clock=clock,
            )
        except BaseException:
            await http.close()
            if bus is not None:
                await bus.close()
            await pool.close()
            raise

    @property
    def url(self) -> str:
        """Base URL of the lookup API."""
        return self.http.url

    def register(self) -> None:
        """Add tasks, checks and shutdown steps to the service."""
        service = self._service
        settings = self.settings

        async def postgres() -> bool | str:
            return await postgres_ready(self.pool)

        async def synced() -> bool | str:
            return await venues_synced(self.pool, self.sync.venues)

        async def close_pool() -> None:
            await self.pool.close()

        async def close_clients() -> None:
            await asyncio.gather(self.http_client.close(), self.cache.close())
            self.http.close()

        service.on_shutdown("postgres", close_pool)  # registered first: runs last
        service.on_shutdown("bus", self.bus.drain)
        service.on_shutdown("clients", close_clients)
        service.add_check("postgres", postgres)
        service.add_check("nats", self.bus.ready)
        service.add_check("sync", synced)
        service.add_task("relay", self.relay.run)
        service.add_task("sync", self.sync.run_forever)
        service.add_task("http", self.http.serve)
        if settings.follow_status_events:
            service.add_task("status", self.status.run)
        if self.cache.enabled:
            service.add_task("cache-invalidator", self.invalidator.run)
