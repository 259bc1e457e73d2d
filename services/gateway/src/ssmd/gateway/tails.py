"""The gateway's live view: one `OrderedTail` per venue over ``md.<env>.<venue>.>``.

Each tail starts ``tail_window_s`` before the gateway did (``by_start_time``), so it holds
everything the archiver may not have flushed yet, and it keeps following the stream. Every
event updates the `FeedBoard` (all channels); trades also go to `RecentTrades` under their
``Nats-Msg-Id``, the key the archive stores as ``msg_id``, so /v1/trades can deduplicate the
two. Only trades and gaps are fully decoded; other channels need just their two
timestamps, read with a narrow decoder. Messages that break the contract are counted
(``ssmd_gateway_tail_bad_messages``) and skipped: the archiver's DLQ owns them.
"""

from __future__ import annotations

import functools
import logging
from typing import Final

import msgspec

from ssmd.bus import Bus, Message, OrderedTail, TailStart, TailStats
from ssmd.contracts.events import ContractError, Gap, Trade, decode_event, event_msg_id
from ssmd.contracts.subjects import MdSubject, md_filter, md_stream, parse_md_subject
from ssmd.core.clock import Clock
from ssmd.core.runtime import Service
from ssmd.gateway.live import NS_PER_S, FeedBoard, RecentTrades

log = logging.getLogger(__name__)

_SUBJECT_CACHE_MAX: Final = 100_000


class _Times(msgspec.Struct):
    """The two timestamps every event carries; the rest of the payload is skipped."""

    ts_event_ns: int
    ts_recv_ns: int


_decode_times = msgspec.json.Decoder(_Times).decode


class VenueTails:
    """Runs the venue tails as service tasks and feeds what they read to the live stores."""

    def __init__(
        self,
        bus: Bus,
        env: str,
        venues: tuple[str, ...],
        *,
        recent: RecentTrades,
        board: FeedBoard,
        window_s: float,
        clock: Clock,
    ) -> None:
        self._bus = bus
        self._env = env
        self._venues = venues
        self._recent = recent
        self._board = board
        self._window_ns = round(window_s * NS_PER_S)
        self._clock = clock
        self._tails: dict[str, OrderedTail] = {}
        self._subjects: dict[str, MdSubject | None] = {}
        self.bad_messages: dict[str, int] = dict.fromkeys(venues, 0)

    @property
    def venues(self) -> tuple[str, ...]:
        return self._venues

    def stats(self) -> dict[str, TailStats | None]:
        """Each venue's tail counters (None until its tail has started)."""
        return {
            venue: (tail.stats if (tail := self._tails.get(venue)) else None)
            for venue in self._venues
        }

    def register(self, service: Service) -> None:
        """Add one task per venue; each stops when the service drains."""
        for venue in self._venues:
            service.add_task(f"tail-{venue}", functools.partial(self.run, venue))

    async def run(self, venue: str) -> None:
        """Follow one venue's market data from ``now - tail_window_s`` until cancelled."""
        start_ns = max(0, self._clock.now_ns() - self._window_ns)
        tail = OrderedTail(
            self._bus,
            md_stream(self._env, venue).name,
            md_filter(self._env, venue),
            lambda message: self._handle(venue, message),
            start=TailStart.at_time(start_ns),
            name=f"gateway_{venue}",
        )
        self._tails[venue] = tail
        await tail.run()

    def stop(self) -> None:
        for tail in self._tails.values():
            tail.stop()

    async def _handle(self, venue: str, message: Message) -> None:
        self.handle(venue, message)

    def handle(self, venue: str, message: Message) -> None:
        """Apply one tailed message to the stores (synchronous: it never waits)."""
        subject = self._subject(message.subject)
        if subject is None:
            self._bad(venue, message, "not a canonical md subject")
            return
        channel = subject.channel
        if channel not in ("trade", "gap"):
            try:
                times = _decode_times(message.data)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                self._bad(venue, message, str(exc))
                return
            key = (venue, channel, subject.market_id)
            self._board.event(key, times.ts_event_ns, times.ts_recv_ns)
            return
        try:
            event = decode_event(message.data)
        except ContractError as exc:
            self._bad(venue, message, str(exc))
            return
        if isinstance(event, Gap):
            self._board.gap((venue, event.channel, event.market), event.ts_recv_ns)
            return
        self._board.event((venue, channel, event.market), event.ts_event_ns, event.ts_recv_ns)
        if isinstance(event, Trade):
            msg_id = message.msg_id or event_msg_id(event)
            row = (
                event.ts_event_ns,
                event.seq,
                event.price,
                event.size,
                event.side,
                event.trade_id,
                msg_id,
            )
            self._recent.add(event.market, row, event.ts_recv_ns)

    def _subject(self, subject: str) -> MdSubject | None:
        cache = self._subjects
        try:
            return cache[subject]
        except KeyError:
            pass
        try:
            parsed: MdSubject | None = parse_md_subject(subject)
        except ValueError:
            parsed = None
        if len(cache) >= _SUBJECT_CACHE_MAX:
            cache.clear()
        cache[subject] = parsed
        return parsed

    def _bad(self, venue: str, message: Message, why: str) -> None:
        count = self.bad_messages.get(venue, 0) + 1
        self.bad_messages[venue] = count
        if count & (count - 1) == 0:  # 1st, 2nd, 4th, 8th...: visible, never a flood
            log.warning(
                "tail %s: skipped message %d (%s) on %s: %s",
                venue,
                message.stream_seq,
                message.msg_id,
                message.subject,
                why[:300],
                extra={"venue": venue, "bad_messages": count},
            )
