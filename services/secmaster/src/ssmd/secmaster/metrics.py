"""The secmaster's Prometheus metrics (``ssmd_secmaster_*``), on the service's registry.

Counters move per request, per relay batch, per cache call and per bus event: none of these
paths is hot enough for a metric's lock to matter (a lookup costs ~1 ms, a relay batch is
hundreds of records).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Seconds: a cached lookup answers in well under a millisecond, a list in a few.
_LATENCY_BUCKETS_S = (
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    5.0,
    30.0,
)


class SecmasterMetrics:
    """Every metric of one secmaster process."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "ssmd_secmaster_requests",
            "Lookup API requests, by route template and status code.",
            ["route", "status"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            "ssmd_secmaster_request_seconds",
            "Seconds from request to response, by route template.",
            ["route"],
            buckets=_LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.relay_published = Counter(
            "ssmd_secmaster_relay_published",
            "Outbox rows published to SECMASTER and marked sent.",
            registry=registry,
        )
        self.relay_batches = Counter(
            "ssmd_secmaster_relay_batches",
            "Relay rounds that published at least one outbox row.",
            registry=registry,
        )
        self.relay_retries = Counter(
            "ssmd_secmaster_relay_retries",
            "Relay rounds retried after a publish or database failure.",
            registry=registry,
        )
        self.relay_recovered = Counter(
            "ssmd_secmaster_relay_recovered",
            "Unsent outbox rows found already stored in SECMASTER (after a crash or a "
            "failed round) and marked sent without publishing them again.",
            registry=registry,
        )
        self.relay_last_outbox_id = Gauge(
            "ssmd_secmaster_relay_last_outbox_id",
            "Highest outbox id published and marked sent by this process.",
            registry=registry,
        )
        self.cache = Counter(
            "ssmd_secmaster_cache",
            "Lookup cache calls, by result: hit, miss, error (Valkey unreachable: the lookup "
            "read Postgres), skipped (a change raced the fill: not stored).",
            ["result"],
            registry=registry,
        )
        self.cache_invalidations = Counter(
            "ssmd_secmaster_cache_invalidations",
            "SECMASTER records that invalidated cached lookups.",
            registry=registry,
        )
        self.status_events = Counter(
            "ssmd_secmaster_status_events",
            "MarketStatus events read from the md streams, by outcome: recorded (a change), "
            "unchanged (already known or unknown market), ignored (not a MarketStatus).",
            ["venue", "outcome"],
            registry=registry,
        )
        self.matcher_proposals = Counter(
            "ssmd_secmaster_matcher_proposals",
            "Cross-venue link proposals made by the symbology matcher.",
            registry=registry,
        )
