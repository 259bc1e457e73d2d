"""The /v1/feeds answer: feed health per (venue, channel, market) and each venue's tail.

Rows come from the `FeedBoard` the tails keep (see `ssmd.gateway.live`): what the gateway
has seen since ``tail_window_s`` before it started. ``channel`` is the subject's channel
token (trade, quote, book, status, funding); a Gap event counts against the channel it names.
"""

from __future__ import annotations

import msgspec

from ssmd.contracts.events import MD_CHANNELS
from ssmd.core.clock import Clock
from ssmd.gateway.live import FeedBoard, FeedStatus
from ssmd.gateway.params import ParameterError, format_ns, parse_market
from ssmd.gateway.tails import VenueTails


class FeedOut(msgspec.Struct, frozen=True):
    """One feed's health."""

    venue: str
    channel: str
    market: str
    last_ts_event: str | None
    last_ts_event_ns: int | None
    last_ts_recv: str | None
    last_ts_recv_ns: int | None
    events: int
    events_last_minute: int
    rate_per_s: float
    gaps: int
    last_gap: str | None
    lag_s: float | None
    venue_delay_s: float | None


class TailOut(msgspec.Struct, frozen=True):
    """One venue tail's state."""

    venue: str
    state: str
    caught_up: bool
    messages: int
    pending: int
    resets: int
    bad_messages: int
    last_error: str


class FeedsAnswer(msgspec.Struct, frozen=True):
    """The body of a /v1/feeds answer."""

    now: str
    now_ns: int
    count: int
    feeds: list[FeedOut]
    tails: list[TailOut]


def _optional_time(ns: int | None) -> str | None:
    return None if ns is None else format_ns(ns)


def _feed(status: FeedStatus) -> FeedOut:
    return FeedOut(
        venue=status.venue,
        channel=status.channel,
        market=status.market,
        last_ts_event=_optional_time(status.last_ts_event_ns),
        last_ts_event_ns=status.last_ts_event_ns,
        last_ts_recv=_optional_time(status.last_ts_recv_ns),
        last_ts_recv_ns=status.last_ts_recv_ns,
        events=status.events,
        events_last_minute=status.events_last_minute,
        rate_per_s=round(status.events_last_minute / 60, 3),
        gaps=status.gaps,
        last_gap=_optional_time(status.last_gap_ns),
        lag_s=status.lag_s,
        venue_delay_s=status.venue_delay_s,
    )


def feeds_answer(
    board: FeedBoard,
    tails: VenueTails,
    clock: Clock,
    *,
    venue: str | None = None,
    channel: str | None = None,
    market: str | None = None,
) -> FeedsAnswer:
    """The feeds matching the filters; raise `ParameterError` for an unknown filter value."""
    if venue is not None and venue not in tails.venues:
        raise ParameterError(
            "venue", f"unknown venue {venue!r}; this gateway serves {', '.join(tails.venues)}"
        )
    if channel is not None and channel not in MD_CHANNELS:
        raise ParameterError("channel", f"{channel!r} is not one of {', '.join(MD_CHANNELS)}")
    if market is not None:
        market_venue, market = parse_market(market, tails.venues)
        if venue is not None and market_venue != venue:
            raise ParameterError("market", f"{market!r} is not a market of venue {venue!r}")
    now_ns = clock.now_ns()
    feeds = [
        _feed(status) for status in board.snapshot(venue=venue, channel=channel, market=market)
    ]
    tail_rows = []
    for name, stats in tails.stats().items():
        if venue is not None and name != venue:
            continue
        tail_rows.append(
            TailOut(
                venue=name,
                state=stats.state if stats else "starting",
                caught_up=stats.caught_up if stats else False,
                messages=stats.delivered if stats else 0,
                pending=stats.pending if stats else 0,
                resets=stats.resets if stats else 0,
                bad_messages=tails.bad_messages.get(name, 0),
                last_error=stats.last_error if stats else "",
            )
        )
    return FeedsAnswer(
        now=format_ns(now_ns), now_ns=now_ns, count=len(feeds), feeds=feeds, tails=tail_rows
    )
