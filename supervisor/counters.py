"""Request counters as heartbeats carry them, and their sum over workers.

A worker counts responses by method and status class and keeps a latency
histogram over a fixed bucket set, all since it started. Heartbeats carry the
running totals (``protocol.Counters``); the supervisor adds a dead worker's last
totals to its ``retired`` counts, so the sums the probe exports never go
backwards when a worker is replaced. A consumer worker's message counts
(``protocol.MessageCounts``) ride along the same way.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from supervisor.protocol import Counters, Latency, MessageCounts

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Message handlers may run for minutes where a request would have timed out.
HANDLER_BUCKETS = (*LATENCY_BUCKETS, 60.0, 120.0, 300.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

Responses = dict[str, dict[str, int]]


def method_label(method: str) -> str:
    """The method, or OTHER: a client must not be able to grow the heartbeat."""
    return method if method in METHODS else "OTHER"


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status <= 599 else "other"


class Histogram:
    """Cumulative buckets over ``bounds`` (the last bucket counts all), plus the sum."""

    def __init__(self, bounds: Sequence[float] = LATENCY_BUCKETS) -> None:
        self.bounds = tuple(bounds)
        self.buckets = [0] * (len(self.bounds) + 1)
        self.sum_s = 0.0

    def observe(self, seconds: float) -> None:
        first = bisect.bisect_left(self.bounds, seconds)
        for i in range(first, len(self.buckets)):
            self.buckets[i] += 1
        self.sum_s += seconds

    def add(self, latency: Latency) -> None:
        """Add a histogram as heartbeats carry it; one of another bucket set is ignored."""
        if len(latency.buckets) != len(self.buckets):
            return
        self.buckets = [a + b for a, b in zip(self.buckets, latency.buckets, strict=True)]
        self.sum_s += latency.sum_s

    def latency(self) -> Latency:
        return Latency(tuple(self.buckets), round(self.sum_s, 6))


class MessageTotals:
    """Consumer workers' messages by outcome, handler durations and reconnects, summed."""

    def __init__(self) -> None:
        self.outcomes: dict[str, int] = {}
        self.duration = Histogram(HANDLER_BUCKETS)
        self.reconnects = 0

    def add(self, counts: MessageCounts) -> None:
        add_to(self.outcomes, counts.outcomes)
        self.duration.add(counts.duration)
        self.reconnects += counts.reconnects

    def counts(self) -> MessageCounts:
        return MessageCounts(dict(self.outcomes), self.duration.latency(), self.reconnects)


class Totals:
    """Responses by method and status class, the latency histogram and, once a consumer
    worker reported any, its messages, summed."""

    def __init__(self) -> None:
        self.responses: Responses = {}
        self.histogram = Histogram()
        self.websocket_messages: dict[str, int] = {}
        self.websocket_closes: dict[str, int] = {}
        self.websocket_refused: dict[str, int] = {}
        self.messages: MessageTotals | None = None

    def add(self, counts: Counters) -> None:
        for method, classes in counts.responses.items():
            add_to(self.responses.setdefault(method, {}), classes)
        self.histogram.add(counts.latency)
        add_to(self.websocket_messages, counts.websocket_messages)
        add_to(self.websocket_closes, counts.websocket_closes)
        add_to(self.websocket_refused, counts.websocket_refused)
        if counts.messages is not None:
            if self.messages is None:
                self.messages = MessageTotals()
            self.messages.add(counts.messages)

    def counters(self) -> Counters:
        return Counters(
            {m: dict(c) for m, c in self.responses.items()},
            self.histogram.latency(),
            dict(self.websocket_messages),
            dict(self.websocket_closes),
            dict(self.websocket_refused),
            None if self.messages is None else self.messages.counts(),
        )


def add_to(totals: dict[str, int], counts: dict[str, int]) -> None:
    for key, n in counts.items():
        totals[key] = totals.get(key, 0) + n


def summed(*sources: Counters) -> Totals:
    """The totals of several heartbeats' counters together."""
    totals = Totals()
    for source in sources:
        totals.add(source)
    return totals
