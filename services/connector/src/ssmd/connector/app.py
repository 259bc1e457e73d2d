"""`Connector`: one shard of one venue, from its WebSocket into JetStream.

Composition (all built in `start`, none at import time):

    venue WS ─► SessionRunner ─► FramePipeline ─► MarketDataSink ─► ssmd.bus.Publisher ─► NATS
                  (reconnect,       (parse, seq,      (subjects,
                   watchdog)         books, gaps)      dedup ids)

`start` connects the bus, provisions ``MD_<ENV>_<VENUE>``, ``RAW_<ENV>_<VENUE>`` and
``DLQ_<ENV>`` (file storage, duplicate window), resolves this shard's markets (configured,
or discovered over REST, with retries; then `prepare_markets` looks up what subscribing
them needs) and splits them over sockets of at most ``markets_per_socket`` markets, each a
`SessionRunner` with its own `FramePipeline` (books, stats and the publisher are shared).
`run` serves until cancelled, and watches the publisher: acks that failed mean stored data
is missing, so every market gets a Gap (``publish_failed``). `close` is the SIGTERM path:
close the sockets, flush the publisher, drain the bus.

Markets change at runtime: `add_markets` / `drop_markets`, reached by requests on
``ctl.<env>.connector.<venue>.<shard>`` (``{"op": "add"|"drop", "markets": [...]}``,
answered with what was done), and drops the venue asks for (a settled market). Added
markets go to a socket with room, or to a new one; only this shard's markets are taken.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Final, Literal

import aiohttp
import msgspec
from prometheus_client import CollectorRegistry

from ssmd.bus import Bus, BusSettings, Publisher, RequestServer, StreamSpec, connect, provision
from ssmd.connector.adapters import adapter_for
from ssmd.connector.adapters._template import VenueAdapter
from ssmd.connector.admin import ConnectorService, book_handler, markets_handler
from ssmd.connector.books import BookKeeper
from ssmd.connector.follow import MarketSelector, SecmasterFollower
from ssmd.connector.metrics import register_stats
from ssmd.connector.pipeline import FramePipeline
from ssmd.connector.publishing import MarketDataSink, MessagePublisher
from ssmd.connector.session import SessionRunner
from ssmd.connector.settings import ConnectorSettings
from ssmd.contracts.subjects import (
    connector_control_subject,
    dead_letter_stream,
    md_stream,
    raw_stream,
)
from ssmd.core.clock import Clock, LiveClock
from ssmd.core.errors import SsmdError, TemporaryError
from ssmd.core.retry import Backoff, retry_async

log = logging.getLogger(__name__)

PUBLISHER_NAME: Final = "connector"
_FAILURE_CHECK_S: Final = 1.0
_FAILURE_CHECK_MAX_S: Final = 60.0
_CONNECT_TIMEOUT_S: Final = 10.0
_MAX_CONTROL_MARKETS: Final = 10_000


class ControlRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of a request on the connector's control subject."""

    op: Literal["add", "drop"]
    markets: list[str]


def _chunks(items: Sequence[str], size: int | None) -> list[list[str]]:
    if not size:
        return [list(items)]
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


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
        self.channels = list(settings.channels or self.adapter.default_feeds)
        self.adapter.check_channels(self.channels)
        self.adapter.configure(settings)
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
        self.runners: list[SessionRunner] = []
        self.control: RequestServer | None = None
        self.follower: SecmasterFollower | None = None
        self._http: aiohttp.ClientSession | None = None
        self._group: asyncio.TaskGroup | None = None
        self._runner_tasks: set[asyncio.Task[None]] = set()
        self._changing = asyncio.Lock()  # one market-set change at a time
        self.stats.is_subscribed = lambda: self.subscribed

    @property
    def markets_per_socket(self) -> int | None:
        """Markets one socket carries: the setting, capped by the adapter's limit."""
        limits = [
            n for n in (self.settings.markets_per_socket, self.adapter.markets_per_socket) if n
        ]
        return min(limits) if limits else None

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
        if s.follow_secmaster:
            symbols: list[str] = []  # the follower adds them as the secmaster lists them
            self.follower = SecmasterFollower(
                self.bus,
                venue=self.adapter.venue,
                selector=MarketSelector(
                    statuses=frozenset(s.select_statuses),
                    series=frozenset(s.select_series),
                    categories=frozenset(s.select_categories),
                    symbols=frozenset(self.adapter.symbol(m) for m in s.markets),
                ),
                add=self.add_markets,
                drop=self.drop_markets,
            )
        else:
            symbols = await self._resolve_symbols(self._http)
        for chunk in _chunks(symbols, self.markets_per_socket):
            if chunk:
                self._new_runner(chunk)
        self._refresh_markets()
        self.control = RequestServer(
            self.bus,
            connector_control_subject(self.env, self.adapter.venue, s.shard),
            self._on_control_request,
        )
        await self.control.start()
        log.info(
            "connector shard %d/%d serves %d market(s) on %d socket(s)",
            s.shard,
            s.shards,
            len(self.markets),
            len(self.runners),
            extra={
                "venue": self.adapter.venue,
                "ws_url": self.ws_url,
                "markets": self.symbols[:50],
                "control_subject": self.control.subject,
            },
        )
        if s.follow_secmaster:
            log.info("following the secmaster for this shard's markets")
        elif not self.markets:
            log.warning("this shard serves no market yet; it waits for markets to be added")

    def _new_runner(self, symbols: list[str]) -> SessionRunner:
        """A socket for `symbols`, started now if the connector is running."""
        s = self.settings
        assert self._http is not None
        assert self.publisher is not None
        pipeline = self.build_pipeline(self.publisher, symbols=symbols)
        runner = SessionRunner(
            url=self.ws_url,
            adapter=self.adapter,
            symbols=symbols,
            channels=self.channels,
            pipeline=pipeline,
            books=self.books,
            stats=self.stats,
            clock=self.clock,
            http=self._http,
            backoff=Backoff(initial_s=s.reconnect_initial_s, max_s=s.reconnect_max_s),
            watchdog_s=s.watchdog_s,
            ping_interval_s=s.ping_interval_s,
            book_refresh_s=(
                self.adapter.book_refresh_s if s.book_refresh_s is None else s.book_refresh_s
            ),
            connect_timeout_s=_CONNECT_TIMEOUT_S,
            max_frame_bytes=s.max_frame_bytes,
        )
        self.runners.append(runner)
        self.stats.sockets = len(self.runners)
        if self._group is not None:
            self._start_runner(self._group, runner)
        return runner

    def _start_runner(self, group: asyncio.TaskGroup, runner: SessionRunner) -> None:
        name = f"connector:session-{len(self._runner_tasks)}"
        task = group.create_task(runner.run(), name=name)
        self._runner_tasks.add(task)
        task.add_done_callback(self._runner_tasks.discard)

    def _refresh_markets(self) -> None:
        self.symbols = [symbol for runner in self.runners for symbol in runner.symbols]
        self.markets = [self.adapter.market_id(symbol) for symbol in self.symbols]
        self.stats.markets = len(self.markets)

    # -- markets at runtime -----------------------------------------------------------------
    async def add_markets(self, symbols: Sequence[str]) -> dict[str, list[str]]:
        """Serve `symbols` too: this shard's new ones are prepared and subscribed.

        Returns ``added``, ``already`` (served before), ``other_shard`` (not this shard's)
        and ``unknown`` (the venue does not know them).
        """
        s = self.settings
        async with self._changing:
            wanted = list(dict.fromkeys(self.adapter.symbol(symbol) for symbol in symbols))
            served = set(self.symbols)
            already = [symbol for symbol in wanted if symbol in served]
            fresh = [symbol for symbol in wanted if symbol not in served]
            owned = set(self.adapter.owned_markets(fresh, s.shards, s.shard))
            mine = [symbol for symbol in fresh if symbol in owned]
            assert self._http is not None
            ready = (
                await self.adapter.prepare_markets(
                    self._http, self.rest_url, mine, s.rest_timeout_s
                )
                if mine
                else []
            )
            unknown = [symbol for symbol in mine if symbol not in set(ready)]
            await self._place(ready)
            self._refresh_markets()
        if ready:
            log.info("markets added", extra={"venue": self.adapter.venue, "markets": ready[:50]})
        return {
            "added": ready,
            "already": already,
            "other_shard": [symbol for symbol in fresh if symbol not in owned],
            "unknown": unknown,
        }

    async def _place(self, symbols: list[str]) -> None:
        cap = self.markets_per_socket
        rest = list(symbols)
        for runner in self.runners:
            if not rest:
                return
            room = len(rest) if cap is None else cap - len(runner.symbols)
            if room > 0:
                take, rest = rest[:room], rest[room:]
                await runner.add_symbols(take)
        for chunk in _chunks(rest, cap):
            if chunk:
                self._new_runner(chunk)

    async def drop_markets(self, symbols: Sequence[str]) -> dict[str, list[str]]:
        """Stop serving `symbols`; returns ``dropped`` and ``not_served``."""
        async with self._changing:
            wanted = list(dict.fromkeys(self.adapter.symbol(symbol) for symbol in symbols))
            dropped: list[str] = []
            for runner in self.runners:
                mine = [symbol for symbol in wanted if symbol in set(runner.symbols)]
                if mine:
                    await runner.drop_symbols(mine)
                    dropped.extend(mine)
            self._refresh_markets()
        if dropped:
            log.info("markets dropped", extra={"venue": self.adapter.venue, "markets": dropped})
        return {
            "dropped": dropped,
            "not_served": [symbol for symbol in wanted if symbol not in set(dropped)],
        }

    async def _on_control_request(self, body: bytes) -> bytes:
        """``{"op": "add"|"drop", "markets": [...]}`` -> what was done, or ``{"error"}``."""
        try:
            request = msgspec.json.decode(body, type=ControlRequest)
        except msgspec.DecodeError as exc:
            return msgspec.json.encode(
                {
                    "error": f'bad request: {exc}; expected {{"op": "add"|"drop", '
                    f'"markets": [symbols]}}'
                }
            )
        if len(request.markets) > _MAX_CONTROL_MARKETS:
            return msgspec.json.encode(
                {"error": f"at most {_MAX_CONTROL_MARKETS} markets per request"}
            )
        if request.op == "add":
            result = await self.add_markets(request.markets)
        else:
            result = await self.drop_markets(request.markets)
        return msgspec.json.encode({"op": request.op, **result})

    async def _dropped_by_venue(self, symbols: list[str]) -> None:
        """The venue ended these markets (settled) or refused them for good."""
        await self.drop_markets(symbols)

    def build_pipeline(
        self, publisher: MessagePublisher, symbols: Sequence[str] | None = None
    ) -> FramePipeline:
        """The frame pipeline of `symbols` (default: the shard's markets), publishing
        through `publisher`.

        Production passes the bus `Publisher`; the benchmark feeds the same pipeline from
        memory, and a recording publisher captures what it would send.
        """
        s = self.settings
        markets = (
            self.markets
            if symbols is None
            else [self.adapter.market_id(symbol) for symbol in symbols]
        )
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
            markets=markets,
            per_market_book_seq=self.adapter.per_market_book_seq,
            publish_raw=s.publish_raw,
            on_drop=self._dropped_by_venue,
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
        owned = self.adapter.owned_markets(symbols, s.shards, s.shard)
        if not owned:
            return []
        return await retry_async(
            lambda: self.adapter.prepare_markets(http, self.rest_url, owned, s.rest_timeout_s),
            backoff=Backoff(initial_s=s.reconnect_initial_s, max_s=s.reconnect_max_s),
            max_attempts=s.rest_attempts,
            describe=f"market details at {self.rest_url}",
        )

    # -- running ----------------------------------------------------------------------------
    async def run(self) -> None:
        """`start` if needed, then serve until cancelled."""
        if self.publisher is None:
            await self.start()
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                for runner in self.runners:
                    self._start_runner(group, runner)
                group.create_task(self._watch_publish_failures(), name="connector:publish-failures")
                if self.follower is not None:
                    group.create_task(self.follower.run(), name="connector:secmaster")
        finally:
            self._group = None

    @property
    def subscribed(self) -> bool:
        """True while every socket with markets is open and its subscriptions acknowledged."""
        active = [runner for runner in self.runners if runner.symbols]
        return bool(active) and all(runner.subscribed for runner in active)

    async def _watch_publish_failures(self) -> None:
        """Every failed ack is a message JetStream may not hold: mark it with Gaps."""
        assert self.bus is not None
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
                    for runner in list(self.runners):
                        await runner.pipeline.publish_gaps("publish_failed")
                    owed = False
                except TemporaryError as exc:  # the bus is still down: try next round
                    log.warning("could not publish gaps yet: %s", exc)

    async def close(self) -> None:
        """SIGTERM path: close the sockets, flush the publisher, drain the bus."""
        if self.follower is not None:
            self.follower.stop()
        if self.control is not None:
            await self.control.stop()
        for runner in self.runners:
            await runner.close()
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
        if self.publisher is None:
            return "starting (markets not resolved yet)"
        problems = [
            f"socket {index}: {state}"
            for index, runner in enumerate(self.runners)
            if (state := runner.readiness()) is not True
        ]
        return "; ".join(problems[:5]) if problems else True

    def register(self, service: ConnectorService) -> None:
        """Run inside `service`: checks, the serving task, the shutdown step, debug routes."""
        service.add_check("nats", self.nats_ready)
        service.add_check("venue", self.venue_ready)
        service.add_task("connector", self.run)
        service.on_shutdown("connector", self.close)
        service.add_get_route("/debug/book", book_handler(self.books, self.adapter.market_id))
        service.add_get_route("/debug/markets", markets_handler(self.books, lambda: self.markets))
