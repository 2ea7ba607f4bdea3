"""Request counters as heartbeats carry them, and their sum over workers.

A worker counts responses by method and status class and keeps a latency
histogram over a fixed bucket set, all since it started. Heartbeats carry the
running totals; the supervisor adds a dead worker's last totals to its
``retired`` counts, so the sums the probe exports never go backwards when a
worker is replaced.

Wire form, bounded so a heartbeat stays one atomic pipe write::

    "responses": {"GET": {"2xx": 120, "4xx": 3}, "POST": {"2xx": 7}}
    "latency": {"buckets": [n_le_0.005, ..., n_le_30, n_total], "sum_s": 1.25}

``buckets`` are Prometheus-style cumulative counts: the i-th counts the
responses that took at most ``LATENCY_BUCKETS[i]`` seconds; the last counts all.
"""

from __future__ import annotations

import bisect
from typing import Any

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

Responses = dict[str, dict[str, int]]


def method_label(method: str) -> str:
    """The method, or OTHER: a client must not be able to grow the heartbeat."""
    return method if method in METHODS else "OTHER"


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status <= 599 else "other"


class Histogram:
    """Cumulative latency buckets over ``LATENCY_BUCKETS``, plus the sum."""

    def __init__(self) -> None:
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.sum_s = 0.0

    def observe(self, seconds: float) -> None:
        first = bisect.bisect_left(LATENCY_BUCKETS, seconds)
        for i in range(first, len(self.buckets)):
            self.buckets[i] += 1
        self.sum_s += seconds

    def add(self, wire: Any) -> None:
        """Add a histogram in wire form; one of another bucket set is ignored."""
        if not isinstance(wire, dict):
            return
        buckets = wire.get("buckets")
        if not isinstance(buckets, list) or len(buckets) != len(self.buckets):
            return
        self.buckets = [a + int(b) for a, b in zip(self.buckets, buckets, strict=True)]
        self.sum_s += float(wire.get("sum_s", 0.0))

    def to_wire(self) -> dict[str, Any]:
        return {"buckets": list(self.buckets), "sum_s": round(self.sum_s, 6)}


class Totals:
    """Responses by method and status class, and the latency histogram, summed."""

    def __init__(self) -> None:
        self.responses: Responses = {}
        self.latency = Histogram()

    def add(self, counts: Any) -> None:
        """Add the counters of a heartbeat (or of another ``Totals.to_wire()``)."""
        if not isinstance(counts, dict):
            return
        responses = counts.get("responses")
        if isinstance(responses, dict):
            for method, classes in responses.items():
                if isinstance(classes, dict):
                    mine = self.responses.setdefault(str(method), {})
                    for klass, n in classes.items():
                        mine[str(klass)] = mine.get(str(klass), 0) + int(n)
        self.latency.add(counts.get("latency"))

    def to_wire(self) -> dict[str, Any]:
        return {"responses": self.responses, "latency": self.latency.to_wire()}


def summed(*sources: Any) -> Totals:
    """The totals of several heartbeats (or wire totals) together."""
    totals = Totals()
    for source in sources:
        totals.add(source)
    return totals
