"""With several workers on one socket, a busy worker gives a keep-alive connection back now and then.

Every worker accepts from the one listening socket, and a keep-alive connection
stays with the worker that accepted it. Clients that open their connections all at
once (a proxy's pool, wrk) land mostly on whichever worker woke first: with two
workers, wrk -t2 -c32 left all 32 connections on one worker in most runs, its one
core then set the pace of both, and the other idled. So a worker that was busy the
whole of the last ``EVERY`` seconds (its event loop never idle, or requests waiting
for a view thread) answers one request with ``Connection: close``; the client
reconnects, and the connection goes to whichever worker accepts it first, which is
one waiting for work rather than one in the middle of a view. Workers that are all
busy pass connections among themselves at a rate too low to cost anything.

gunicorn's sync worker closes every connection; nginx closes each after
``keepalive_requests``. This closes one in a few hundred, and only when it helps.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from hurricane.worker.stopwatch import counters

EVERY = 0.1  # seconds: at most one connection given back this often
BUSY = 0.8  # cores' worth of the time the worker computed or its loop waited for a CPU: no idle moment


def busy_time() -> float:
    """Seconds the process has computed, and its event loop's thread (the caller) waited for a CPU.

    A loop that runs views inline, or threads taking turns with the GIL, add up to a
    core when the worker is saturated, less the time other processes had the CPU.
    """
    return time.process_time() + counters().queued()


class Handoff:
    """Read on the event loop's thread: whether the next keep-alive response should close."""

    def __init__(
        self,
        waiting: Callable[[], int],
        every: float = EVERY,
        clock: Callable[[], float] = time.perf_counter,
        busy: Callable[[], float] = busy_time,
    ) -> None:
        self.waiting = waiting  # requests waiting for a view thread
        self.every = every
        self.clock = clock
        self.busy = busy
        self.since = clock()
        self.busy_since = busy()

    def due(self) -> bool:
        """True at most once per ``every``, when the worker was busy all along."""
        now = self.clock()
        if now - self.since < self.every:
            return False
        busy = self.busy()
        was_busy = busy - self.busy_since >= BUSY * (now - self.since) or self.waiting() > 0
        self.since, self.busy_since = now, busy
        return was_busy
