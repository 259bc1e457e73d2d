"""Prometheus metrics of the bus (names start ``ssmd_bus_``), cheap on the hot path.

A publisher or consumer handles each message in a few microseconds, and a Prometheus
``Counter.inc()`` (a lock) or ``Histogram.observe()`` would cost a noticeable share of that.
So the hot path bumps plain integers on a stats object, and one collector per registry
turns them into metric families when the registry is scraped. Stats objects live as long
as the registry and are shared by every publisher/consumer with the same labels, so
counters stay monotonic across restarts of a publisher inside one process.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ssmd.core.metrics import LocalHistogram

# Seconds; publish acks on loopback take ~0.1-5 ms, handlers up to seconds.
LATENCY_BUCKETS_S: tuple[float, ...] = (
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
    2.5,
    5.0,
    10.0,
)


@dataclass(slots=True, eq=False)
class ConnectionStats:
    """Connection life events of every Bus on one registry."""

    events: dict[str, int] = field(default_factory=dict)
    connected: int = 0  # connections currently up

    def count(self, event: str) -> None:
        self.events[event] = self.events.get(event, 0) + 1


@dataclass(slots=True, eq=False)
class PublisherStats:
    """Counters of every Publisher with one ``publisher`` label."""

    published: int = 0
    acked: int = 0
    duplicates: int = 0
    failed_temporary: int = 0
    failed_permanent: int = 0
    late_acks: int = 0
    retried: int = 0
    in_flight: int = 0
    ack_latency: LocalHistogram = field(default_factory=lambda: LocalHistogram(LATENCY_BUCKETS_S))


@dataclass(slots=True, eq=False)
class ConsumerStats:
    """Counters of every DurableConsumer with one (stream, consumer) label pair."""

    received: int = 0
    acked: int = 0
    naked: int = 0
    dead_lettered: int = 0
    handler_errors: int = 0
    in_flight: int = 0
    handler_latency: LocalHistogram = field(
        default_factory=lambda: LocalHistogram(LATENCY_BUCKETS_S)
    )


class BusCollector(Collector):
    """Exports the stats of one registry's buses, publishers and consumers."""

    def __init__(self) -> None:
        self.connection = ConnectionStats()
        self._publishers: dict[str, PublisherStats] = {}
        self._consumers: dict[tuple[str, str], ConsumerStats] = {}

    def publisher(self, name: str) -> PublisherStats:
        return self._publishers.setdefault(name, PublisherStats())

    def consumer(self, stream: str, durable: str) -> ConsumerStats:
        return self._consumers.setdefault((stream, durable), ConsumerStats())

    def describe(self) -> Iterable[Metric]:
        # Names only, so the registry can refuse a second collector with the same names.
        return list(self._families())

    def collect(self) -> Iterable[Metric]:
        return list(self._families())

    def _families(self) -> Iterator[Metric]:
        yield from self._connection_families()
        yield from self._publisher_families()
        yield from self._consumer_families()

    def _connection_families(self) -> Iterator[Metric]:
        events = CounterMetricFamily(
            "ssmd_bus_connection_events",
            "NATS connection events (connected, disconnected, reconnected, error, closed).",
            labels=["event"],
        )
        for event, count in sorted(self.connection.events.items()):
            events.add_metric([event], count)
        yield events
        yield GaugeMetricFamily(
            "ssmd_bus_connected",
            "NATS connections of this process that are currently up.",
            value=self.connection.connected,
        )

    def _publisher_families(self) -> Iterator[Metric]:
        label = ["publisher"]

        def counter(name: str, doc: str) -> CounterMetricFamily:
            return CounterMetricFamily(name, doc, labels=label)

        published = counter("ssmd_bus_published", "Messages handed to JetStream.")
        acked = counter("ssmd_bus_publish_acked", "Publishes JetStream acknowledged.")
        duplicates = counter(
            "ssmd_bus_publish_duplicates", "Acks flagged duplicate (msg id seen before)."
        )
        failed = CounterMetricFamily(
            "ssmd_bus_publish_failed",
            "Publishes not stored, by kind (temporary: send again; permanent: fix it).",
            labels=["publisher", "kind"],
        )
        late = counter("ssmd_bus_publish_late_acks", "Acks that came after their timeout.")
        retried = counter(
            "ssmd_bus_publish_retried", "Temporary failures queued to be sent again (same id)."
        )
        in_flight = GaugeMetricFamily(
            "ssmd_bus_publish_in_flight", "Messages sent but not yet acked.", labels=label
        )
        latency = HistogramMetricFamily(
            "ssmd_bus_publish_ack_latency_seconds",
            "Seconds from send to JetStream ack.",
            labels=label,
        )
        for name, s in sorted(self._publishers.items()):
            published.add_metric([name], s.published)
            acked.add_metric([name], s.acked)
            duplicates.add_metric([name], s.duplicates)
            failed.add_metric([name, "temporary"], s.failed_temporary)
            failed.add_metric([name, "permanent"], s.failed_permanent)
            late.add_metric([name], s.late_acks)
            retried.add_metric([name], s.retried)
            in_flight.add_metric([name], s.in_flight)
            latency.add_metric([name], s.ack_latency.buckets(), s.ack_latency.total)
        yield from (published, acked, duplicates, failed, late, retried, in_flight, latency)

    def _consumer_families(self) -> Iterator[Metric]:
        labels = ["stream", "consumer"]

        def counter(name: str, doc: str) -> CounterMetricFamily:
            return CounterMetricFamily(name, doc, labels=labels)

        received = counter("ssmd_bus_consumer_received", "Messages delivered to the consumer.")
        acked = counter("ssmd_bus_consumer_acked", "Messages acked after the handler returned.")
        naked = counter("ssmd_bus_consumer_naked", "Messages naked for redelivery.")
        dead = counter(
            "ssmd_bus_consumer_dead_lettered", "Messages moved to the dead-letter subject."
        )
        errors = counter("ssmd_bus_consumer_handler_errors", "Handler calls that raised.")
        in_flight = GaugeMetricFamily(
            "ssmd_bus_consumer_in_flight", "Messages received but not yet settled.", labels=labels
        )
        latency = HistogramMetricFamily(
            "ssmd_bus_consumer_handler_seconds", "Seconds a handler call took.", labels=labels
        )
        for key, s in sorted(self._consumers.items()):
            values = list(key)
            received.add_metric(values, s.received)
            acked.add_metric(values, s.acked)
            naked.add_metric(values, s.naked)
            dead.add_metric(values, s.dead_lettered)
            errors.add_metric(values, s.handler_errors)
            in_flight.add_metric(values, s.in_flight)
            latency.add_metric(values, s.handler_latency.buckets(), s.handler_latency.total)
        yield from (received, acked, naked, dead, errors, in_flight, latency)


_collectors: weakref.WeakKeyDictionary[CollectorRegistry, BusCollector] = (
    weakref.WeakKeyDictionary()
)


def bus_collector(registry: CollectorRegistry | None = None) -> BusCollector:
    """The bus collector of `registry` (default: prometheus_client's global one)."""
    target = REGISTRY if registry is None else registry
    collector = _collectors.get(target)
    if collector is None:
        collector = BusCollector()
        target.register(collector)
        _collectors[target] = collector
    return collector
