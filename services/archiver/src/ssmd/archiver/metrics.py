"""Prometheus metrics of the archiver (``ssmd_archiver_*``).

Counters move once per flush, never per message. The buffer gauges (rows held, their
high-water mark, the age of the oldest unflushed message) are read from the consumers when
the registry is scraped. The bus adds ``ssmd_bus_consumer_*`` (received, acked, naked,
dead-lettered publishes) for the same consumers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ssmd.archiver.flush import FlushResult

FLUSH_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Buffer(Protocol):
    """What a consumer tells about the messages it holds (`ssmd.bus.BatchConsumer`)."""

    @property
    def buffered(self) -> int: ...

    @property
    def buffered_high_water(self) -> int: ...

    def oldest_buffered_age_s(self) -> float: ...


class _BufferCollector(Collector):
    def __init__(self) -> None:
        self.buffers: dict[str, Buffer] = {}

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    def collect(self) -> Iterable[Metric]:
        return list(self._families())

    def _families(self) -> Iterable[Metric]:
        held = GaugeMetricFamily(
            "ssmd_archiver_buffered_rows",
            "Messages held in memory (gathering plus being written), per stream.",
            labels=["stream"],
        )
        high = GaugeMetricFamily(
            "ssmd_archiver_buffered_rows_high_water",
            "Most messages held at once since start (bounded by max_buffered_rows).",
            labels=["stream"],
        )
        age = GaugeMetricFamily(
            "ssmd_archiver_oldest_unflushed_age_seconds",
            "Seconds the oldest message not yet in a committed file has been held.",
            labels=["stream"],
        )
        for stream, buffer in sorted(self.buffers.items()):
            held.add_metric([stream], buffer.buffered)
            high.add_metric([stream], buffer.buffered_high_water)
            age.add_metric([stream], buffer.oldest_buffered_age_s())
        return [held, high, age]


class ArchiverMetrics:
    """The archiver's metrics on one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        per_type = ["venue", "type"]
        per_stream = ["stream"]
        self.events_written = Counter(
            "ssmd_archiver_events_written",
            "Rows committed to the archive, by venue and type (event type tag or raw).",
            per_type,
            registry=registry,
        )
        self.files_written = Counter(
            "ssmd_archiver_files_written",
            "Files committed, by venue and type.",
            per_type,
            registry=registry,
        )
        self.bytes_written = Counter(
            "ssmd_archiver_bytes_written",
            "Bytes of committed files, by venue and type.",
            per_type,
            registry=registry,
        )
        self.flush_seconds = Histogram(
            "ssmd_archiver_flush_seconds",
            "Seconds from a batch's hand-over to its commit (decode, encode, write, fsync).",
            per_stream,
            buckets=FLUSH_BUCKETS_S,
            registry=registry,
        )
        self.dead_lettered = Counter(
            "ssmd_archiver_dead_lettered",
            "Messages rejected (payload not a valid event) and sent to the dead-letter "
            "subject with the reason.",
            per_stream,
            registry=registry,
        )
        self.redeliveries_skipped = Counter(
            "ssmd_archiver_redeliveries_skipped",
            "Redelivered messages already in a committed file, acked without writing.",
            per_stream,
            registry=registry,
        )
        self.flush_errors = Counter(
            "ssmd_archiver_flush_errors",
            "Flushes that failed and were retried (their messages naked).",
            per_stream,
            registry=registry,
        )
        self.last_commit = Gauge(
            "ssmd_archiver_last_commit_timestamp_seconds",
            "Unix time of the last commit, per stream (archive freshness).",
            per_stream,
            registry=registry,
        )
        self._buffers = _BufferCollector()
        registry.register(self._buffers)

    def watch(self, stream: str, buffer: Buffer) -> None:
        """Export `buffer`'s gauges under ``stream``."""
        self._buffers.buffers[stream] = buffer

    def flushed(
        self, stream: str, venue: str, result: FlushResult, seconds: float, now_s: float
    ) -> None:
        for channel, rows in result.rows.items():
            self.events_written.labels(venue, channel).inc(rows)
            self.files_written.labels(venue, channel).inc(result.files[channel])
            self.bytes_written.labels(venue, channel).inc(result.bytes[channel])
        if result.rejected:
            self.dead_lettered.labels(stream).inc(len(result.rejected))
        if result.skipped:
            self.redeliveries_skipped.labels(stream).inc(result.skipped)
        self.flush_seconds.labels(stream).observe(seconds)
        if result.rows:
            self.last_commit.labels(stream).set(now_s)
