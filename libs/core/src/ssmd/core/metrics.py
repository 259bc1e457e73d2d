"""Metrics helpers shared by services: a histogram that costs two list operations.

prometheus-client's own Histogram takes a lock and walks its buckets on every observation;
on a hot path (every published message) that is measurable. `LocalHistogram` keeps plain
integer counts and is turned into a Prometheus histogram by a collector at scrape time.
"""

from __future__ import annotations

from bisect import bisect_left


class LocalHistogram:
    """Histogram buckets kept as plain ints (one event loop, no lock); exported at scrape."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        if list(bounds) != sorted(bounds) or not bounds:
            raise ValueError("histogram bounds must be a non-empty ascending sequence")
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last slot is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        # bisect_left finds the first bound >= value: Prometheus buckets are "le".
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def buckets(self) -> list[tuple[str, float]]:
        """Cumulative (upper bound, count) pairs, as `HistogramMetricFamily` wants them."""
        cumulative = 0
        out: list[tuple[str, float]] = []
        for bound, count in zip((*map(str, self.bounds), "+Inf"), self.counts, strict=True):
            cumulative += count
            out.append((bound, float(cumulative)))
        return out
