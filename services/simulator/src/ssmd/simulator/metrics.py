"""Prometheus metrics of the simulator (served on the admin port's /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class SimulatorMetrics:
    """Frames sent, events generated, connections, subscriptions, faults."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.frames_sent = Counter(
            "ssmd_simulator_frames_sent_total",
            "Frames written to client WebSockets (data, control and injected faults).",
            registry=registry,
        )
        self.events_generated = Counter(
            "ssmd_simulator_events_generated_total",
            "Synthetic market events generated (book changes, trades, tickers).",
            registry=registry,
        )
        self.connections = Gauge(
            "ssmd_simulator_connections", "Open client WebSocket connections.", registry=registry
        )
        self.subscriptions = Gauge(
            "ssmd_simulator_subscriptions",
            "Active (feed, product) subscriptions over all connections.",
            registry=registry,
        )
        self.faults = Counter(
            "ssmd_simulator_faults_total",
            "Faults injected, by action (slow_consumer: a client dropped for a full queue).",
            ["action"],
            registry=registry,
        )
