"""Prometheus metrics of the connector (``ssmd_connector_*``), cheap on the hot path.

The pipeline handles a frame in a few microseconds; a prometheus_client ``Counter.inc()``
takes a lock and would cost a visible share of that. So the hot path bumps plain integers
on `ConnectorStats`, and `ConnectorCollector` turns them into metric families when the
registry is scraped (the same approach as ``ssmd.bus.metrics``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ssmd.contracts.events import CHANNEL_OF, MD_CHANNELS, EventBase
from ssmd.core.metrics import LocalHistogram

# Seconds from a frame's receipt to its last message handed to NATS (not yet acked).
LATENCY_BUCKETS_S: tuple[float, ...] = (
    0.00001,
    0.000025,
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
)


@dataclass(slots=True, eq=False)
class ConnectorStats:
    """Counters of one connector process; written by the pipeline and the session."""

    frames: int = 0
    control_frames: int = 0
    malformed_frames: int = 0
    dead_letters: int = 0
    events: dict[type[EventBase], int] = field(default_factory=dict)
    gaps: dict[str, int] = field(default_factory=dict)  # reason -> count
    stale_deltas: int = 0
    foreign_events: int = 0  # events of markets this shard does not serve (not published)
    resnapshots: int = 0
    book_refreshes: int = 0  # periodic re-fetches of a book (venues without sequence numbers)
    publish_rejected: int = 0
    reconnects: int = 0
    watchdog_restarts: int = 0
    sessions: int = 0
    last_event_ns: int = 0  # wall clock, Unix ns, of the last frame that carried events
    markets: int = 0
    sockets: int = 0
    dropped_markets: int = 0  # markets the venue ended (settled) or refused for good
    is_subscribed: Callable[[], bool] = field(default=lambda: False)
    """Read at scrape time: every socket's subscriptions confirmed (set by the connector)."""
    publish_latency: LocalHistogram = field(
        default_factory=lambda: LocalHistogram(LATENCY_BUCKETS_S)
    )

    def count_gap(self, reason: str) -> None:
        self.gaps[reason] = self.gaps.get(reason, 0) + 1


class ConnectorCollector(Collector):
    """Exports one `ConnectorStats` as ``ssmd_connector_*`` families, labelled by venue."""

    def __init__(self, stats: ConnectorStats, venue: str) -> None:
        self.stats = stats
        self.venue = venue

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    def collect(self) -> Iterable[Metric]:
        return list(self._families())

    def _counter(self, name: str, doc: str, value: float) -> CounterMetricFamily:
        family = CounterMetricFamily(name, doc, labels=["venue"])
        family.add_metric([self.venue], value)
        return family

    def _gauge(self, name: str, doc: str, value: float) -> GaugeMetricFamily:
        family = GaugeMetricFamily(name, doc, labels=["venue"])
        family.add_metric([self.venue], value)
        return family

    def _families(self) -> Iterator[Metric]:
        s, venue = self.stats, self.venue
        yield self._counter("ssmd_connector_frames", "WebSocket frames received.", s.frames)
        yield self._counter(
            "ssmd_connector_control_frames", "Frames that were control messages.", s.control_frames
        )
        yield self._counter(
            "ssmd_connector_malformed_frames",
            "Frames the venue parser rejected (each one dead-lettered).",
            s.malformed_frames,
        )
        yield self._counter(
            "ssmd_connector_dead_letters", "Messages published to the DLQ.", s.dead_letters
        )
        events = CounterMetricFamily(
            "ssmd_connector_events",
            "Canonical events published, by md channel.",
            labels=["venue", "channel"],
        )
        by_channel: dict[str, int] = dict.fromkeys(MD_CHANNELS, 0)
        for cls, count in list(s.events.items()):
            channel = CHANNEL_OF.get(cls, "other")
            by_channel[channel] = by_channel.get(channel, 0) + count
        for channel, count in by_channel.items():
            events.add_metric([venue, channel], count)
        yield events
        gaps = CounterMetricFamily(
            "ssmd_connector_gaps",
            "Gap events published, by reason (seq, reconnect, publish_failed...).",
            labels=["venue", "reason"],
        )
        for reason, count in sorted(s.gaps.items()):
            gaps.add_metric([venue, reason], count)
        yield gaps
        yield self._counter(
            "ssmd_connector_stale_deltas",
            "Book deltas at or before the book's sequence (not applied).",
            s.stale_deltas,
        )
        yield self._counter(
            "ssmd_connector_resnapshots", "Book re-snapshots requested after a gap.", s.resnapshots
        )
        yield self._counter(
            "ssmd_connector_publish_rejected",
            "Messages NATS refused outright (each leaves a Gap).",
            s.publish_rejected,
        )
        yield self._counter(
            "ssmd_connector_reconnects",
            "WebSocket sessions that ended and were retried.",
            s.reconnects,
        )
        yield self._counter(
            "ssmd_connector_watchdog_restarts",
            "Sockets restarted because they went silent (or a book never re-synced).",
            s.watchdog_restarts,
        )
        yield self._gauge(
            "ssmd_connector_last_event_timestamp_seconds",
            "Unix time of the last frame that carried market events.",
            s.last_event_ns / 1e9,
        )
        yield self._gauge(
            "ssmd_connector_subscribed",
            "1 while the venue confirmed the subscriptions of every socket.",
            s.is_subscribed(),
        )
        yield self._gauge("ssmd_connector_markets", "Markets this shard serves.", s.markets)
        yield self._gauge("ssmd_connector_sockets", "Venue sockets of this shard.", s.sockets)
        yield self._counter(
            "ssmd_connector_book_refreshes",
            "Books re-fetched periodically to prove no update was lost (no-sequence venues).",
            s.book_refreshes,
        )
        yield self._counter(
            "ssmd_connector_foreign_events",
            "Events of markets this shard does not serve (venue-wide feeds), not published.",
            s.foreign_events,
        )
        yield self._counter(
            "ssmd_connector_dropped_markets",
            "Markets dropped because the venue ended them (settled) or refused them for good.",
            s.dropped_markets,
        )
        latency = HistogramMetricFamily(
            "ssmd_connector_publish_latency_seconds",
            "Seconds from a frame's receipt to its last message handed to NATS (1 frame in 16).",
            labels=["venue"],
        )
        latency.add_metric([venue], s.publish_latency.buckets(), s.publish_latency.total)
        yield latency


def register_stats(registry: CollectorRegistry, venue: str) -> ConnectorStats:
    """New stats, exported by `registry` (one connector per registry)."""
    stats = ConnectorStats()
    registry.register(ConnectorCollector(stats, venue))
    return stats
