"""Counters the worker reports in its heartbeats."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

from supervisor.counters import Histogram, Responses, method_label, status_class
from supervisor.protocol import Counters, RunningRequest


class RequestStats:
    """In-flight, queued and total requests, responses by method and status class, and
    a latency histogram. Mutated on the loop thread, except ``started``."""

    def __init__(self, limit: int | None = None, on_limit: Callable[[], None] = lambda: None) -> None:
        self.limit = limit  # --max-requests for this worker: ``on_limit`` is told when it is reached
        self.on_limit = on_limit
        self.in_flight = 0
        self.requests_total = 0
        self.submitted = 0
        self._started = 0
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._open: dict[int, tuple[float, str, str]] = {}  # key -> (start, method, path)
        self.responses: Responses = {}
        self.latency = Histogram()

    def begin(self, method: str, path: str) -> int:
        self.in_flight += 1
        key = next(self._ids)
        self._open[key] = (time.monotonic(), method, path)
        return key

    def end(self, key: int) -> None:
        if self._open.pop(key, None) is not None:
            self.in_flight -= 1
            self.requests_total += 1
            if self.requests_total == self.limit:
                self.on_limit()

    def responded(self, key: int, status: int) -> float:
        """A response went out for the request ``key`` (before ``end``); how long it took."""
        if key not in self._open:
            return 0.0
        started, method, _ = self._open[key]
        by_class = self.responses.setdefault(method_label(method), {})
        klass = status_class(status)
        by_class[klass] = by_class.get(klass, 0) + 1
        seconds = time.monotonic() - started
        self.latency.observe(seconds)
        return seconds

    def counters(self) -> Counters:
        """The heartbeat's share (a copy: the heartbeat is encoded later)."""
        return Counters({m: dict(c) for m, c in self.responses.items()}, self.latency.latency())

    def submit(self) -> None:
        self.submitted += 1

    def started(self) -> None:
        """Called from a view thread when it picks a request up."""
        with self._lock:
            self._started += 1

    @property
    def queued(self) -> int:
        return max(0, self.submitted - self._started)

    def oldest(self) -> RunningRequest | None:
        """The longest-running request: method, path (shortened) and age."""
        if not self._open:
            return None
        started, method, path = min(self._open.values())
        return RunningRequest(method, path[:200], round(time.monotonic() - started, 3))

    def running_longer_than(self, seconds: float) -> int:
        cutoff = time.monotonic() - seconds
        return sum(1 for started, _, _ in self._open.values() if started < cutoff)
