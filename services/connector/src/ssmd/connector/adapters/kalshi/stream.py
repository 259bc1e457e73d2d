"""The Kalshi WebSocket v2 session, client side (one instance per socket).

Subscriptions: the per-market channels (``ticker``, ``trade``, ``orderbook_delta``) are
subscribed for *groups* of markets, one ``subscribe`` command per group (the venue answers
one ``subscribed`` per channel, each with its own sid). ``market_lifecycle_v2`` covers
every market and is one subscription without a market filter; private channels (``fill``,
``market_positions``) likewise, and need a signed connection.

Caps: the venue's per-subscription market limit is unpublished. A group starts at
`GROUP_MARKETS` markets; error 26 (market limit) splits the refused group in halves and
subscribes both; error 27 (too many requests) re-sends the command after a backoff.

Sequence: ``seq`` counts per sid. A jump on an ``orderbook_delta`` sid loses book data of
every market of its group: each gets a Gap (channel ``book``, expected/received) and the
group's books are re-fetched with ``update_subscription``/``get_snapshot``. A jump on a
``trade`` sid loses trades (Gap ``trade``; the venue has no replay); one on the lifecycle
sid loses status changes (Gap ``status`` for every market of the socket). Errors 10 and 25
end a subscription: it is subscribed again, with Gaps for its markets.

Lifecycle: a market that settles is dropped (`StreamActions.drop`); its MarketStatus event
was published first. Markets added or dropped at runtime are a new group, or
``delete_markets`` on each sid of their group (``unsubscribe`` once a group is empty).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from ssmd.connector.adapters._template import GapNotice, StreamActions, VenueStream
from ssmd.connector.adapters.kalshi.config import (
    BOOK_FEED,
    GROUP_MARKETS,
    LIFECYCLE_FEED,
    MARKET_FEEDS,
    PRIVATE_FEEDS,
    TICKER_FEED,
    TRADE_FEED,
)
from ssmd.connector.adapters.kalshi.schemas import DataMark, ErrorReply, Reply
from ssmd.contracts.events import CHANNEL_OF, MarketStatus
from ssmd.venues.kalshi import config as venue
from ssmd.venues.kalshi.requests import KalshiCommands

log = logging.getLogger(__name__)

_NS_PER_S: Final = 1_000_000_000
_RETRY_FIRST_NS: Final = _NS_PER_S // 2
_RETRY_MAX_NS: Final = 30 * _NS_PER_S
_LOGGED_PROBLEMS: Final = 20
_STATUS_CHANNEL: Final = CHANNEL_OF[MarketStatus]
_GAP_CHANNEL_OF: Final = {BOOK_FEED: "book", TRADE_FEED: "trade", LIFECYCLE_FEED: _STATUS_CHANNEL}
_NEGATIVE_SIZE: Final = "negative_size"  # DataMark.issue: a delta below zero (book is off)
_DROPPED_CODES: Final = frozenset({11, 14, 16})  # the venue does not know these markets


@dataclass(eq=False, slots=True)
class _Group:
    """Markets subscribed together on the per-market channels (one subscribe command)."""

    tickers: list[str]
    sids: dict[str, int] = field(default_factory=dict)  # channel -> sid
    pending: int | None = None  # id of the subscribe command not fully answered


@dataclass(frozen=True, slots=True)
class _Retry:
    """A command to send again later (rate limited): how to rebuild it, and when."""

    due_ns: int
    attempt: int
    rebuild: Callable[[], bytes | None]


class KalshiStream(VenueStream):
    """Subscription state of one Kalshi socket; see module doc."""

    def __init__(
        self,
        symbols: Sequence[str],
        channels: Sequence[str],
        *,
        market_id_of: Callable[[str], str],
        group_markets: int = GROUP_MARKETS,
    ) -> None:
        self._market_id_of = market_id_of
        self._group_markets = max(1, group_markets)
        self._market_channels = [c for c in channels if c in MARKET_FEEDS]
        self._lifecycle = LIFECYCLE_FEED in channels
        self._private = [c for c in channels if c in PRIVATE_FEEDS]
        self._commands = KalshiCommands()
        self._groups: list[_Group] = [
            _Group(list(symbols[start : start + self._group_markets]))
            for start in range(0, len(symbols), self._group_markets)
        ]
        self._pending_groups: dict[int, _Group] = {}  # subscribe command id -> group
        self._pending_other: dict[int, str] = {}  # command id -> "lifecycle" / "private"
        self._lifecycle_sid: int | None = None
        self._private_sids: dict[str, int] = {}
        self._sid_channel: dict[int, str] = {}
        self._sid_group: dict[int, _Group] = {}
        self._last_seq: dict[int, int] = {}
        self._retries: list[_Retry] = []
        self._settled: set[str] = set()  # the venue already removed them from every sid
        self._now_ns = 0
        self.venue_errors: list[str] = []
        self._problems_logged = 0

    # -- subscribing --------------------------------------------------------------------------
    def subscribe_requests(self) -> list[bytes]:
        requests: list[bytes] = []
        if self._lifecycle:
            command_id, frame = self._commands.subscribe([LIFECYCLE_FEED])
            self._pending_other[command_id] = "lifecycle"
            requests.append(frame)
        if self._private:
            command_id, frame = self._commands.subscribe(self._private)
            self._pending_other[command_id] = "private"
            requests.append(frame)
        requests.extend(self._subscribe_group(group) for group in self._groups if group.tickers)
        return requests

    def _subscribe_group(self, group: _Group, channels: Sequence[str] | None = None) -> bytes:
        wanted = list(channels or self._market_channels)
        command_id, frame = self._commands.subscribe(
            wanted,
            group.tickers,
            send_initial_snapshot=True if TICKER_FEED in wanted else None,
        )
        group.pending = command_id
        self._pending_groups[command_id] = group
        return frame

    @property
    def subscribed(self) -> bool:
        if self._lifecycle and self._lifecycle_sid is None:
            return False
        if any(channel not in self._private_sids for channel in self._private):
            return False
        return all(
            group.pending is None and all(c in group.sids for c in self._market_channels)
            for group in self._groups
            if group.tickers
        )

    def subscription_state(self) -> str:
        if self.subscribed:
            return "subscribed"
        waiting = sum(
            1
            for group in self._groups
            if group.tickers
            and (group.pending is not None or len(group.sids) < len(self._market_channels))
        )
        lifecycle = (
            " and the lifecycle channel" if self._lifecycle and self._lifecycle_sid is None else ""
        )
        return f"{waiting}/{len(self._groups)} market group(s) waiting for subscribed{lifecycle}"

    # -- markets at runtime -----------------------------------------------------------------
    def add_markets(self, symbols: Sequence[str]) -> list[bytes]:
        served = {ticker for group in self._groups for ticker in group.tickers}
        new = [symbol for symbol in dict.fromkeys(symbols) if symbol not in served]
        requests = []
        for start in range(0, len(new), self._group_markets):
            group = _Group(new[start : start + self._group_markets])
            self._groups.append(group)
            requests.append(self._subscribe_group(group))
        return requests

    def drop_markets(self, symbols: Sequence[str]) -> list[bytes]:
        gone = set(symbols)
        requests: list[bytes] = []
        for group in list(self._groups):
            removed = [ticker for ticker in group.tickers if ticker in gone]
            if not removed:
                continue
            group.tickers = [ticker for ticker in group.tickers if ticker not in gone]
            if not group.tickers:
                self._groups.remove(group)
                if group.sids:
                    requests.append(self._commands.unsubscribe(group.sids.values())[1])
                continue
            live = [ticker for ticker in removed if ticker not in self._settled]
            if live:
                requests.extend(
                    self._update(sid, venue.DELETE_MARKETS, live) for sid in group.sids.values()
                )
        self._settled -= gone
        return requests

    def resnapshot_requests(self, market: str) -> list[bytes]:
        ticker = market.split(":", 1)[1]
        for group in self._groups:
            if ticker in group.tickers:
                sid = group.sids.get(BOOK_FEED)
                return [] if sid is None else [self._update(sid, venue.GET_SNAPSHOT, [ticker])]
        return []

    def _update(self, sid: int, action: str, tickers: list[str]) -> bytes:
        return self._commands.update_subscription(sid, action, tickers)[1]

    # -- what the venue said ----------------------------------------------------------------
    def on_control(self, control: object) -> StreamActions | None:
        if isinstance(control, DataMark):
            return self._on_data(control)
        if isinstance(control, Reply):
            return self._on_reply(control)
        if isinstance(control, ErrorReply):
            return self._on_error(control)
        return None

    def _on_data(self, mark: DataMark) -> StreamActions | None:
        actions: StreamActions | None = None
        if mark.seq is not None:
            actions = self._check_seq(mark.sid, mark.seq)
        if mark.issue == _NEGATIVE_SIZE and mark.market is not None:
            actions = actions or StreamActions()
            actions.gaps.append(GapNotice(mark.market, "book", "book_inconsistent"))
            actions.requests.extend(self.resnapshot_requests(mark.market))
        if mark.status == "settled" and mark.market is not None:
            ticker = mark.market.split(":", 1)[1]
            if any(ticker in group.tickers for group in self._groups):
                self._settled.add(ticker)
                actions = actions or StreamActions()
                actions.drop.append(ticker)
        return actions

    def _check_seq(self, sid: int, seq: int) -> StreamActions | None:
        last = self._last_seq.get(sid)
        if last is not None and seq <= last:
            return None  # a repeat: nothing new
        self._last_seq[sid] = seq
        if last is None or seq == last + 1:
            return None
        return self._lost(sid, "seq", expected=last + 1, received=seq)

    def _lost(
        self, sid: int, reason: str, *, expected: int | None = None, received: int | None = None
    ) -> StreamActions:
        """Gaps for what `sid` carried, and the book re-fetch where it was a book."""
        actions = StreamActions()
        channel = self._sid_channel.get(sid)
        gap_channel = _GAP_CHANNEL_OF.get(channel or "")
        if channel == LIFECYCLE_FEED:
            tickers = [ticker for group in self._groups for ticker in group.tickers]
        else:
            group = self._sid_group.get(sid)
            tickers = list(group.tickers) if group is not None else []
        if gap_channel is None or not tickers:
            return actions
        actions.gaps.extend(
            GapNotice(self._market_id_of(ticker), gap_channel, reason, expected, received)
            for ticker in tickers
        )
        if channel == BOOK_FEED and reason == "seq":
            actions.requests.append(self._update(sid, venue.GET_SNAPSHOT, tickers))
        self._problem(f"{reason} on sid {sid} ({channel}): {len(tickers)} market(s) affected")
        return actions

    def _on_reply(self, reply: Reply) -> StreamActions | None:
        if reply.kind == "subscribed" and reply.sid is not None and reply.channel is not None:
            self._subscribed(reply.id, reply.channel, reply.sid)
            return None
        if reply.kind == "unsubscribed" and reply.sid is not None:
            self._forget_sid(reply.sid)
            return None
        if reply.kind == "ok" and reply.sid is not None and reply.seq is not None:
            return self._check_seq(reply.sid, reply.seq)
        return None

    def _subscribed(self, command_id: int | None, channel: str, sid: int) -> None:
        self._sid_channel[sid] = channel
        group = self._pending_groups.get(command_id or 0)
        if group is not None:
            old = group.sids.get(channel)
            if old is not None:
                self._forget_sid(old)
            group.sids[channel] = sid
            self._sid_group[sid] = group
            if all(c in group.sids for c in self._market_channels):
                group.pending = None
                self._pending_groups.pop(command_id or 0, None)
            return
        kind = self._pending_other.get(command_id or 0)
        if kind == "lifecycle" or channel == LIFECYCLE_FEED:
            self._lifecycle_sid = sid
        elif kind == "private" or channel in PRIVATE_FEEDS:
            self._private_sids[channel] = sid
        if channel == LIFECYCLE_FEED or all(c in self._private_sids for c in self._private):
            self._pending_other.pop(command_id or 0, None)

    def _forget_sid(self, sid: int) -> None:
        self._sid_channel.pop(sid, None)
        self._last_seq.pop(sid, None)
        group = self._sid_group.pop(sid, None)
        if group is not None:
            group.sids = {c: s for c, s in group.sids.items() if s != sid}

    def _on_error(self, error: ErrorReply) -> StreamActions | None:
        command_id = error.id or 0
        group = self._pending_groups.get(command_id)
        if error.code == venue.MARKET_LIMIT and group is not None:
            return self._split(command_id, group)
        if error.code == venue.RATE_LIMITED:
            self._retry_later(command_id, group)
            return None
        if error.terminal and error.sid is not None:
            return self._resubscribe(error.sid, f"subscription ended: {error.code_text}")
        if error.code == venue.AUTH_REQUIRED:
            self._pending_other.pop(command_id, None)
            return StreamActions(
                problem="private channels need a signed connection: set api_key_id and "
                "api_private_key_path (Kalshi answered error 9, authentication required)"
            )
        self._problem(f"venue error {error.code} ({error.code_text}): {error.msg}")
        if error.code in _DROPPED_CODES and error.market_tickers:
            return StreamActions(drop=list(error.market_tickers))
        return None

    def _split(self, command_id: int, group: _Group) -> StreamActions:
        """Error 26: the group is too big for one subscription; subscribe two halves."""
        self._pending_groups.pop(command_id, None)
        self._groups.remove(group)
        if len(group.tickers) <= 1:
            self._problem(f"market limit refuses even one market: dropping {group.tickers}")
            return StreamActions(drop=list(group.tickers))
        half = len(group.tickers) // 2
        self._group_markets = max(1, min(self._group_markets, half))
        actions = StreamActions()
        for tickers in (group.tickers[:half], group.tickers[half:]):
            part = _Group(tickers)
            self._groups.append(part)
            actions.requests.append(self._subscribe_group(part))
        log.info(
            "market limit (error 26) on %d markets: split into %d + %d",
            len(group.tickers),
            half,
            len(group.tickers) - half,
        )
        return actions

    def _retry_later(self, command_id: int, group: _Group | None) -> None:
        """Error 27: send the refused subscribe again after a growing delay."""
        if group is None:
            self._problem(f"command {command_id} refused: too many requests (not retried)")
            return
        self._pending_groups.pop(command_id, None)
        attempt = 1 + sum(1 for retry in self._retries if retry.attempt)

        def rebuild(group: _Group = group) -> bytes | None:
            if group not in self._groups or not group.tickers:
                return None
            return self._subscribe_group(group)

        delay_ns = min(_RETRY_MAX_NS, _RETRY_FIRST_NS << min(attempt, 6))
        self._retries.append(_Retry(self._now_ns + delay_ns, attempt, rebuild))

    def _resubscribe(self, sid: int, why: str) -> StreamActions:
        """Errors 10/25: the sid is gone; Gaps for its markets, then subscribe again."""
        actions = self._lost(sid, "subscription_ended")
        channel = self._sid_channel.get(sid)
        group = self._sid_group.get(sid)
        self._forget_sid(sid)
        self._problem(f"{why} (sid {sid}, {channel}); subscribing again")
        if channel == LIFECYCLE_FEED:
            self._lifecycle_sid = None
            command_id, frame = self._commands.subscribe([LIFECYCLE_FEED])
            self._pending_other[command_id] = "lifecycle"
            actions.requests.append(frame)
        elif group is not None and channel is not None and group.tickers:
            actions.requests.append(self._subscribe_group(group, [channel]))
        return actions

    def on_tick(self, now_ns: int) -> StreamActions | None:
        self._now_ns = now_ns
        if not self._retries:
            return None
        due = [retry for retry in self._retries if retry.due_ns <= now_ns]
        if not due:
            return None
        self._retries = [retry for retry in self._retries if retry.due_ns > now_ns]
        frames = [frame for retry in due if (frame := retry.rebuild()) is not None]
        return StreamActions(requests=frames) if frames else None

    def _problem(self, text: str) -> None:
        if len(self.venue_errors) < _LOGGED_PROBLEMS:
            self.venue_errors.append(text)
            log.warning(text, extra={"venue": "kalshi"})
