"""The gateway's Prometheus metrics (``ssmd_gateway_*``), on the service's registry.

Per-request metrics are ordinary counters and histograms (a request costs milliseconds, so
their locks do not matter). The tail and the live stores are read at scrape time by
`LiveCollector`, so the per-message path stays free of metric calls.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ssmd.core.clock import Clock
from ssmd.gateway.live import FeedBoard, RecentTrades
from ssmd.gateway.tails import VenueTails

# Seconds: an archive hour is read in milliseconds; the deadline is seconds.
_LATENCY_BUCKETS_S = (
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
    2.5,
    5.0,
    10.0,
)


class GatewayMetrics:
    """Request and query metrics of one gateway."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "ssmd_gateway_requests",
            "HTTP API requests, by route template and status code.",
            ["route", "status"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            "ssmd_gateway_request_seconds",
            "Seconds from request to response, by route template.",
            ["route"],
            buckets=_LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.query_seconds = Histogram(
            "ssmd_gateway_query_seconds",
            "Seconds to answer one trade query (archive and tail, before encoding).",
            buckets=_LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.archive_seconds = Histogram(
            "ssmd_gateway_archive_query_seconds",
            "Seconds spent in DuckDB for one trade query.",
            buckets=_LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.archive_files = Counter(
            "ssmd_gateway_archive_files_read",
            "Parquet files handed to DuckDB (after partition pruning).",
            registry=registry,
        )


class LiveCollector(Collector):
    """Exports the tails' and live stores' counters when the registry is scraped."""

    def __init__(
        self, tails: VenueTails, recent: RecentTrades, board: FeedBoard, clock: Clock
    ) -> None:
        self._tails = tails
        self._recent = recent
        self._board = board
        self._clock = clock

    def collect(self) -> Iterable[Metric]:
        labels = ["venue"]
        up = GaugeMetricFamily(
            "ssmd_gateway_tail_up", "1 while the venue's tail has a consumer.", labels=labels
        )
        delivered = CounterMetricFamily(
            "ssmd_gateway_tail_messages", "Messages read by the venue's tail.", labels=labels
        )
        resets = CounterMetricFamily(
            "ssmd_gateway_tail_resets",
            "Tail consumers re-created to keep order (gap, reconnect, silence).",
            labels=labels,
        )
        bad = CounterMetricFamily(
            "ssmd_gateway_tail_bad_messages",
            "Tailed messages skipped because they break the contract.",
            labels=labels,
        )
        pending = GaugeMetricFamily(
            "ssmd_gateway_tail_pending_messages",
            "Messages the server holds for the tail beyond the last one read.",
            labels=labels,
        )
        lag = GaugeMetricFamily(
            "ssmd_gateway_tail_lag_seconds",
            "Age of the last message read while more are pending (0 when caught up).",
            labels=labels,
        )
        now_ns = self._clock.now_ns()
        for venue, stats in self._tails.stats().items():
            if stats is None:
                up.add_metric([venue], 0)
                continue
            up.add_metric([venue], 1 if stats.state == "running" else 0)
            delivered.add_metric([venue], stats.delivered)
            resets.add_metric([venue], stats.resets)
            bad.add_metric([venue], self._tails.bad_messages.get(venue, 0))
            pending.add_metric([venue], stats.pending)
            behind = stats.pending > 0 and stats.last_timestamp_ns > 0
            lag.add_metric([venue], (now_ns - stats.last_timestamp_ns) / 1e9 if behind else 0.0)
        yield from (up, delivered, resets, bad, pending, lag)
        yield GaugeMetricFamily(
            "ssmd_gateway_recent_trades", "Trades held from the tail.", value=len(self._recent)
        )
        yield CounterMetricFamily(
            "ssmd_gateway_recent_trades_evicted",
            "Trades dropped by the tail_max_trades cap before their window ended.",
            value=self._recent.evicted,
        )
        yield GaugeMetricFamily(
            "ssmd_gateway_feeds", "(venue, channel, market) rows tracked.", value=len(self._board)
        )
        yield CounterMetricFamily(
            "ssmd_gateway_feeds_evicted",
            "Feed rows dropped by the feeds_max_entries cap.",
            value=self._board.evicted,
        )
