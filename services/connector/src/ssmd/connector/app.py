"""`Connector`: one shard of one venue, from its WebSocket into JetStream.

Composition (all built in `start`, none at import time):

    venue WS ─► SessionRunner ─► FramePipeline ─► MarketDataSink ─► ssmd.bus.Publisher ─► NATS
                  (reconnect,       (parse, seq,      (subjects,
                   watchdog)         books, gaps)      dedup ids)

`start` connects the bus, provisions ``MD_<ENV>_<VENUE>``, ``RAW_<ENV>_<VENUE>`` and
``DLQ_<ENV>`` (file storage, duplicate window), resolves this shard's markets (configured,
or discovered over REST, with retries) and builds the pipeline. `run` serves until
cancelled, and watches the publisher: acks that failed mean stored data is missing, so
every market gets a Gap (``publish_failed``). `close` is the SIGTERM path: close the
socket, flush the publisher, drain the bus.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

import aiohttp
from prometheus_client import CollectorRegistry

from ssmd.bus import Bus, BusSettings, Publisher, StreamSpec, connect, provision
from ssmd.connector.adapters import adapter_for
from ssmd.connector.adapters._template import VenueAdapter
from ssmd.connector.admin import ConnectorService, book_handler, markets_handler
from ssmd.connector.books import BookKeeper
from ssmd.connector.metrics import register_stats
from ssmd.connector.pipeline import FramePipeline
from ssmd.connector.publishing import MarketDataSink, MessagePublisher
from ssmd.connector.session import SessionRunner
from ssmd.connector.settings import ConnectorSettings
from ssmd.contracts.subjects import dead_letter_stream, md_stream, raw_stream
from ssmd.core.clock import Clock, LiveClock
from ssmd.core.errors import SsmdError, TemporaryError
from ssmd.core.retry import Backoff, retry_async

log = logging.getLogger(__name__)

PUBLISHER_NAME: Final = "connector"
_FAILURE_CHECK_S: Final = 1.0
_FAILURE_CHECK_MAX_S: Final = 60.0
_CONNECT_TIMEOUT_S: Final = 10.0


class Connector:
    """One connector shard; see module doc."""

    def __init__(
        self,
        settings: ConnectorSettings,
        *,
        bus_settings: BusSettings,
        env: str,
        adapter: VenueAdapter | None = None,
        registry: CollectorRegistry | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.adapter = adapter or adapter_for(settings.venue)
        self.adapter.check_channels(settings.channels)
        self.env = env
        self._bus_settings = bus_settings
        self.registry = registry if registry is not None else CollectorRegistry()
        self.stats = register_stats(self.registry, self.adapter.venue)
        self.clock = clock or LiveClock()
        self.books = BookKeeper()
        self.symbols: list[str] = []
        self.markets: list[str] = []  # canonical market ids of this shard
        self.bus: Bus | None = None
        self.publisher: Publisher | None = None
        self.pipeline: FramePipeline | None = None
        self.session: SessionRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    # -- wiring -----------------------------------------------------------------------------
    @property
    def ws_url(self) -> str:
        return self.settings.ws_url or self.adapter.default_ws_url

    @property
    def rest_url(self) -> str:
        return self.settings.rest_url or self.adapter.default_rest_url

    def stream_specs(self) -> list[StreamSpec]:
        """The streams this connector writes to, as it provisions them."""
        s, venue = self.settings, self.adapter.venue
        md, raw, dlq = (
            md_stream(self.env, venue),
            raw_stream(self.env, venue),
            dead_letter_stream(self.env),
        )
        return [
            StreamSpec(
                md.name,
                md.subjects,
                max_age_s=s.stream_max_age_s,
                duplicate_window_s=s.duplicate_window_s,
                description=f"normalized market events of {venue} ({self.env})",
            ),
            StreamSpec(
                raw.name,
                raw.subjects,
                max_age_s=s.stream_max_age_s,
                duplicate_window_s=s.duplicate_window_s,
                description=f"raw venue frames of {venue} ({self.env})",
            ),
            # Dead letters are kept until someone looks at them.
            StreamSpec(dlq.name, dlq.subjects, duplicate_window_s=s.duplicate_window_s),
        ]

    async def start(self) -> None:
        """Connect, provision, resolve markets, build the pipeline (idempotent per object)."""
        s = self.settings
        self._http = aiohttp.ClientSession()
        self.bus = await connect(self._bus_settings, registry=self.registry)
        if s.provision_streams:
            await provision(self.bus, streams=self.stream_specs())
        self.publisher = Publisher(self.bus, name=PUBLISHER_NAME)
        self.symbols = await self._resolve_symbols(self._http)
        self.markets = [self.adapter.market_id(symbol) for symbol in self.symbols]
        self.stats.markets = len(self.markets)
        self.pipeline = self.build_pipeline(self.publisher)
        self.session = SessionRunner(
            url=self.ws_url,
            adapter=self.adapter,
            symbols=self.symbols,
            channels=s.channels,
            pipeline=self.pipeline,
            books=self.books,
            stats=self.stats,
            clock=self.clock,
            http=self._http,
            backoff=Backoff(initial_s=s.reconnect_initial_s, max_s=s.reconnect_max_s),
            watchdog_s=s.watchdog_s,
            ping_interval_s=s.ping_interval_s,
            connect_timeout_s=_CONNECT_TIMEOUT_S,
            max_frame_bytes=s.max_frame_bytes,
        )
        log.info(
            "connector shard %d/%d serves %d market(s)",
            s.shard,
            s.shards,
            len(self.markets),
            extra={
                "venue": self.adapter.venue,
                "ws_url": self.ws_url,
                "markets": self.symbols[:50],
            },
        )
        if not self.markets:
            log.warning("this shard serves no market; it only keeps the socket open")

    def build_pipeline(self, publisher: MessagePublisher) -> FramePipeline:
        """The frame pipeline of this shard's markets, publishing through `publisher`.

        Production passes the bus `Publisher`; the benchmark feeds the same pipeline from
        memory, and a recording publisher captures what it would send.
        """
        s = self.settings
        sink = MarketDataSink(
            publisher, env=self.env, venue=self.adapter.venue, shard=s.shard, shards=s.shards
        )
        return FramePipeline(
            venue=self.adapter.venue,
            parser=self.adapter.new_parser(),
            sink=sink,
            books=self.books,
            stats=self.stats,
            clock=self.clock,
            markets=self.markets,
            per_market_book_seq=self.adapter.per_market_book_seq,
            publish_raw=s.publish_raw,
        )

    async def _resolve_symbols(self, http: aiohttp.ClientSession) -> list[str]:
        s = self.settings
        symbols = list(s.markets)
        if not symbols:
            symbols = await retry_async(
                lambda: self.adapter.discover_markets(http, self.rest_url, s.rest_timeout_s),
                backoff=Backoff(initial_s=s.reconnect_initial_s, max_s=s.reconnect_max_s),
                max_attempts=s.rest_attempts,
                describe=f"market discovery at {self.rest_url}",
            )
        return self.adapter.owned_markets(symbols, s.shards, s.shard)

    # -- running ----------------------------------------------------------------------------
    async def run(self) -> None:
        """`start` if needed, then serve until cancelled."""
        if self.session is None:
            await self.start()
        assert self.session is not None
        async with asyncio.TaskGroup() as group:
            group.create_task(self.session.run(), name="connector:session")
            group.create_task(self._watch_publish_failures(), name="connector:publish-failures")

    @property
    def subscribed(self) -> bool:
        """True while the venue socket is open and every subscription is acknowledged."""
        return self.session is not None and self.session.subscribed

    async def _watch_publish_failures(self) -> None:
        """Every failed ack is a message JetStream may not hold: mark it with Gaps."""
        assert self.bus is not None
        assert self.pipeline is not None
        stats = self.bus.metrics.publisher(PUBLISHER_NAME)
        seen = stats.failed_temporary + stats.failed_permanent
        owed = False
        interval_s = _FAILURE_CHECK_S
        while True:
            await self.clock.sleep(interval_s)
            failed = stats.failed_temporary + stats.failed_permanent
            if failed > seen:
                log.error(
                    "%d publish(es) not acknowledged; marking every market with a Gap",
                    failed - seen,
                    extra={"venue": self.adapter.venue},
                )
                seen, owed = failed, True
                # While failures go on (the Gaps themselves may fail), check less often.
                interval_s = min(_FAILURE_CHECK_MAX_S, interval_s * 2)
            else:
                interval_s = _FAILURE_CHECK_S
            if owed:
                try:
                    await self.pipeline.publish_gaps("publish_failed")
                    owed = False
                except TemporaryError as exc:  # the bus is still down: try next round
                    log.warning("could not publish gaps yet: %s", exc)

    async def close(self) -> None:
        """SIGTERM path: close the socket, flush the publisher, drain the bus."""
        if self.session is not None:
            await self.session.close()
        if self.publisher is not None:
            try:
                await self.publisher.flush()
            except SsmdError as exc:  # already counted and marked with Gaps
                log.warning("publishes lost at shutdown: %s", exc)
            finally:
                await self.publisher.close()
        if self.bus is not None:
            await self.bus.drain()
        if self._http is not None:
            await self._http.close()
        log.info("connector stopped", extra={"venue": self.adapter.venue})

    # -- service wiring ---------------------------------------------------------------------
    async def nats_ready(self) -> bool | str:
        if self.bus is None:
            return "connecting to NATS"
        return await self.bus.ready()

    async def venue_ready(self) -> bool | str:
        if self.session is None:
            return "starting (markets not resolved yet)"
        return self.session.readiness()

    def register(self, service: ConnectorService) -> None:
        """Run inside `service`: checks, the serving task, the shutdown step, debug routes."""
        service.add_check("nats", self.nats_ready)
        service.add_check("venue", self.venue_ready)
        service.add_task("connector", self.run)
        service.on_shutdown("connector", self.close)
        service.add_get_route("/debug/book", book_handler(self.books, self.adapter.market_id))
        service.add_get_route("/debug/markets", markets_handler(self.books, lambda: self.markets))
