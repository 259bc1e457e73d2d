"""The frame pipeline: one received frame in, its raw copy, events and gaps out to JetStream.

`FramePipeline.handle(frame, ts_recv_ns)` is the connector's hot path and the same code
runs in production (fed by the WebSocket session) and in ``bench/bench_connector.py`` (fed
from memory). Per frame:

1. the raw frame is published (``publish_raw``), before parsing, so even a frame that
   cannot be parsed is on record;
2. the adapter's parser turns it into canonical events or a control message; a
   `MalformedFrame` is counted and dead-lettered with its reason, and the session goes on;
3. control messages go to the session's `VenueStream` (acks, venue errors, per-subscription
   sequence numbers); what it asks for (`StreamActions`: requests to send, Gaps to publish,
   markets to drop, a restart) is done before the frame's events are published;
4. book events pass the sequence check (venues with per-market book numbering): a jump
   publishes a `Gap` (expected/received) and asks the venue for a fresh snapshot of that
   book; the book is not trusted (nor updated) until it arrives. A snapshot of a book in
   sync that differs from it (a periodic refresh on venues without sequence numbers) is
   preceded by a `Gap` (``snapshot_mismatch``): updates were lost in between;
5. every event of a market this socket serves is published under its md subject and dedup
   id (`publishing`); events of other markets (venue-wide feeds such as Kalshi's lifecycle
   channel) are counted and skipped.

Nothing here logs per event. A message NATS refuses outright (an oversized snapshot) is
counted and leaves a Gap for its market; a bus that cannot take messages at all
(`TemporaryError`) propagates, so the session restarts and marks the loss with Gaps.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from ssmd.connector.adapters._template import FrameParser, GapNotice, StreamActions, VenueStream
from ssmd.connector.books import BookKeeper
from ssmd.connector.metrics import ConnectorStats
from ssmd.connector.publishing import MarketDataSink
from ssmd.connector.sequence import DeltaVerdict, GapInfo, SeqTracker
from ssmd.contracts.events import CHANNEL_OF, BookDelta, BookSnapshot, Gap, MarketEvent
from ssmd.core.clock import Clock
from ssmd.core.errors import PermanentError
from ssmd.venues.errors import MalformedFrame

log = logging.getLogger(__name__)

SendFn = Callable[[bytes], Awaitable[None]]
DropFn = Callable[[list[str]], Awaitable[None]]
"""Called with venue symbols the session says this shard must stop serving."""
RestartFn = Callable[[str], Awaitable[None]]
"""Closes the current socket (the runner reconnects); the argument is the reason."""
ProblemFn = Callable[[str], None]
"""Records why the venue refuses service (shown by /readyz until the next socket)."""
ALL_CHANNELS: Final = "all"
"""`Gap.channel` when every feed of a market lost data (reconnect, publish failure)."""

_IN_ORDER: Final = DeltaVerdict.IN_ORDER
_GAP: Final = DeltaVerdict.GAP
_STALE: Final = DeltaVerdict.STALE
_NS_PER_S: Final = 1e9
_LOGGED_REJECTIONS: Final = 10
_LATENCY_SAMPLE_MASK: Final = 15  # latency is observed on one frame in 16: cheap, and plenty


async def _no_send(_frame: bytes) -> None:
    """Where requests go while no socket is open (the benchmark, between sessions)."""


async def _no_drop(_symbols: list[str]) -> None:
    """Where drops go without a connector (the benchmark)."""


async def _no_restart(_why: str) -> None:
    """Where restarts go without a session runner (the benchmark)."""


def _no_problem(_why: str) -> None:
    """Where problems go without a session runner (the benchmark)."""


class FramePipeline:
    """Turns frames into published messages; see module doc."""

    def __init__(
        self,
        *,
        venue: str,
        parser: FrameParser,
        sink: MarketDataSink,
        books: BookKeeper,
        stats: ConnectorStats,
        clock: Clock,
        markets: Sequence[str],
        per_market_book_seq: bool = True,
        publish_raw: bool = True,
        on_drop: DropFn = _no_drop,
    ) -> None:
        self.venue = venue
        self.markets = tuple(markets)
        self._served = frozenset(self.markets)
        self._parse = parser
        self._sink = sink
        self._books = books
        self._stats = stats
        self._clock = clock
        self._seq = SeqTracker()
        self._per_market_seq = per_market_book_seq
        self._publish_raw = publish_raw
        self._stream: VenueStream | None = None
        self._send: SendFn = _no_send
        self._restart: RestartFn = _no_restart
        self._problem: ProblemFn = _no_problem
        self._on_drop = on_drop
        self._rejections_logged = 0

    def set_markets(self, markets: Sequence[str]) -> None:
        """The canonical market ids this pipeline's socket serves: only their events are
        published, and they get the Gaps of a reconnect."""
        self.markets = tuple(markets)
        self._served = frozenset(self.markets)

    def set_session_hooks(self, *, restart: RestartFn, problem: ProblemFn) -> None:
        """How this pipeline's session runner restarts its socket and records problems."""
        self._restart = restart
        self._problem = problem

    # -- session boundaries -----------------------------------------------------------------
    async def begin_session(
        self, stream: VenueStream | None, send: SendFn, *, continuation: bool
    ) -> None:
        """A new socket: books and sequences start over; a reconnect publishes Gaps.

        `continuation` is true for every socket after the first of this process: what the
        venue sent in between is lost, so each market gets a Gap (channel ``all``).
        """
        now_ns = self._clock.now_ns()
        self._stream = stream
        self._send = send
        self._seq.reset()
        self._books.reset(now_ns, self.markets)
        if continuation:
            await self.publish_gaps("reconnect")

    def end_session(self) -> None:
        self._stream = None
        self._send = _no_send

    async def publish_gaps(self, reason: str) -> None:
        """One Gap (channel ``all``) per market of this shard, e.g. after lost publishes."""
        now_ns = self._clock.now_ns()
        for market in self.markets:
            gap = Gap(
                venue=self.venue,
                market=market,
                ts_event_ns=now_ns,
                ts_recv_ns=now_ns,
                channel=ALL_CHANNELS,
                reason=reason,
            )
            await self._publish(gap)
            self._stats.count_gap(reason)

    # -- the hot path -----------------------------------------------------------------------
    async def handle(self, frame: bytes, ts_recv_ns: int) -> None:
        """Process one frame received at `ts_recv_ns` (wall clock, Unix ns)."""
        stats = self._stats
        stats.frames += 1
        if self._publish_raw:
            await self._raw(frame)
        try:
            result = self._parse(frame, ts_recv_ns)
        except MalformedFrame as exc:
            await self._dead_letter(frame, exc)
            return
        control = result.control
        drop: list[str] = []
        if control is not None:
            drop = await self._on_control(control)
        events = result.events
        if not events:
            if drop:
                await self._drop(drop)
            return
        stats.last_event_ns = ts_recv_ns
        counts = stats.events
        publish = self._sink.event
        served = self._served
        for event in events:
            if event.market not in served:  # venue-wide feeds (lifecycle) cover others too
                stats.foreign_events += 1
                continue
            cls = type(event)
            counts[cls] = counts.get(cls, 0) + 1
            if isinstance(event, BookDelta):
                await self._on_delta(event)
            elif isinstance(event, BookSnapshot):
                await self._on_snapshot(event)
            try:
                await publish(event)
            except PermanentError as exc:  # refused outright: this one message is lost
                await self._rejected(event, exc)
        if not stats.frames & _LATENCY_SAMPLE_MASK:
            stats.publish_latency.observe((self._clock.now_ns() - ts_recv_ns) / _NS_PER_S)
        if drop:  # after the frame's own events (a settled market's MarketStatus)
            await self._drop(drop)

    async def _raw(self, frame: bytes) -> None:
        try:
            await self._sink.raw(frame)
        except PermanentError as exc:  # e.g. larger than NATS takes: the events still go
            self._refused("raw frame", exc)

    async def _dead_letter(self, frame: bytes, error: MalformedFrame) -> None:
        """Count a frame that cannot be parsed and keep it, with its reason, in the DLQ."""
        self._stats.malformed_frames += 1
        try:
            await self._sink.dead_letter(frame, error.reason)
            self._stats.dead_letters += 1
        except PermanentError as refusal:
            self._refused("dead letter", refusal)

    async def _on_control(self, control: object) -> list[str]:
        """Hand a control message to the stream; do what it asks now, except the drops,
        which are returned to be done once the frame's events are published."""
        self._stats.control_frames += 1
        if self._stream is None:
            return []
        actions = self._stream.on_control(control)
        if not actions:
            return []
        drop, actions.drop = actions.drop, []
        await self.apply(actions)
        return drop

    async def _drop(self, symbols: list[str]) -> None:
        self._stats.dropped_markets += len(symbols)
        await self._on_drop(symbols)

    async def apply(self, actions: StreamActions) -> None:
        """Do what the session's stream asked: Gaps, requests, drops, a restart."""
        for notice in actions.gaps:
            await self._notice_gap(notice)
        for request in actions.requests:
            await self._send(request)
        if actions.drop:
            await self._drop(list(actions.drop))
        if actions.problem is not None:
            log.error("venue session problem: %s", actions.problem, extra={"venue": self.venue})
            self._problem(actions.problem)
        if actions.restart is not None:
            await self._restart(actions.restart)

    async def _notice_gap(self, notice: GapNotice) -> None:
        market = notice.market
        if notice.channel in ("book", ALL_CHANNELS):
            self._books.unsync(market, self._clock.now_ns())
            self._seq.on_snapshot(market, None)
        self._stats.count_gap(notice.reason)
        now_ns = self._clock.now_ns()
        await self._publish(
            Gap(
                venue=self.venue,
                market=market,
                ts_event_ns=now_ns,
                ts_recv_ns=now_ns,
                channel=notice.channel,
                reason=notice.reason,
                expected_seq=notice.expected_seq,
                received_seq=notice.received_seq,
            )
        )

    async def _publish(self, event: MarketEvent) -> None:
        try:
            await self._sink.event(event)
        except PermanentError as exc:
            await self._rejected(event, exc)

    # -- books ------------------------------------------------------------------------------
    async def _on_snapshot(self, event: BookSnapshot) -> None:
        """A snapshot of a book believed in sync that differs from it proves lost updates
        (the only proof on venues without sequence numbers): a Gap precedes it."""
        if self._per_market_seq:
            self._seq.on_snapshot(event.market, event.seq)
        if self._books.is_synced(event.market) and self._books.differs(event):
            self._stats.count_gap("snapshot_mismatch")
            await self._publish(
                Gap(
                    venue=self.venue,
                    market=event.market,
                    ts_event_ns=event.ts_event_ns,
                    ts_recv_ns=event.ts_recv_ns,
                    channel="book",
                    reason="snapshot_mismatch",
                )
            )
        self._books.apply_snapshot(event)

    async def _on_delta(self, event: BookDelta) -> None:
        if not self._per_market_seq:
            if self._books.is_synced(event.market):
                self._books.apply_delta(event)
            return
        verdict, gap = self._seq.on_delta(event.market, event.seq)
        if verdict is _IN_ORDER:
            self._books.apply_delta(event)
        elif verdict is _GAP:
            assert gap is not None
            await self._on_gap(event, gap)
        elif verdict is _STALE:
            self._stats.stale_deltas += 1

    async def _on_gap(self, event: BookDelta, gap: GapInfo) -> None:
        market = event.market
        self._books.unsync(market, self._clock.now_ns())
        self._stats.count_gap("seq")
        await self._publish(
            Gap(
                venue=self.venue,
                market=market,
                ts_event_ns=event.ts_event_ns,
                ts_recv_ns=event.ts_recv_ns,
                channel="book",
                reason="seq",
                expected_seq=gap.expected_seq,
                received_seq=gap.received_seq,
            )
        )
        log.warning(
            "book sequence gap: expected %d, received %d; re-snapshotting",
            gap.expected_seq,
            gap.received_seq,
            extra={"venue": self.venue, "market": market},
        )
        await self.resnapshot(market)

    async def resnapshot(self, market: str) -> None:
        """Ask the venue for a fresh book of `market` (its book waits for it)."""
        if self._stream is None:
            return
        self._stats.resnapshots += 1
        for request in self._stream.resnapshot_requests(market):
            await self._send(request)

    def _refused(self, what: str, error: PermanentError, market: str | None = None) -> None:
        """Count (and, a few times, log) a message NATS refused outright."""
        self._stats.publish_rejected += 1
        if self._rejections_logged < _LOGGED_REJECTIONS:
            self._rejections_logged += 1
            log.error(
                "NATS refused a %s: %s", what, error, extra={"venue": self.venue, "market": market}
            )

    async def _rejected(self, event: MarketEvent, error: PermanentError) -> None:
        self._refused(f"{type(event).__name__} event", error, event.market)
        if isinstance(event, Gap):
            return  # never answer a refused Gap with another Gap
        now_ns = self._clock.now_ns()
        gap = Gap(
            venue=self.venue,
            market=event.market,
            ts_event_ns=event.ts_event_ns,
            ts_recv_ns=now_ns,
            channel=CHANNEL_OF[type(event)],
            reason="publish_rejected",
        )
        self._stats.count_gap("publish_rejected")
        await self._publish(gap)
