"""With several workers on one socket, a busy worker gives a keep-alive connection back now and then.

Every worker accepts from the one listening socket, and a keep-alive connection
stays with the worker that accepted it for as long as the client keeps it. The
listener takes one connection per wakeup when workers share the socket, which
spreads clients that connect at once; but a worker added later (SIGTTIN) starts
with none of the open connections, and a proxy's pool can end up uneven. (A
worker knows the --workers it started with, not the count since: a server
started with one worker and scaled up keeps the behaviour of one.) So a
busy worker (it computed all the time, or requests waited for a view thread) gives
each of its connections back about once every ``TURNOVER`` seconds: it answers a
request with ``Connection: close``, the client reconnects, and the connection goes
to whichever worker accepts it first, one waiting for work rather than one in the
middle of a view. A worker holding more connections gives them back faster, so
they drift towards the workers with fewer.

Each hand-off costs its client a reconnect and that request a few turns of the
accepting worker's loop (tens of milliseconds under load), so they are rare: 32
connections on busy workers make four a second, 0.2% of the SQLite view's
requests. gunicorn's sync worker closes every connection; nginx closes each after
``keepalive_requests`` (1,000).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from hurricane.worker.stopwatch import counters
from supervisor.options import Options

TURNOVER = 8.0  # seconds: a busy worker gives back each of its connections about this often
FASTEST = 0.05  # seconds: and one at most this often, however many it holds
BUSY = 0.8  # cores' worth of the time the worker computed or its loop waited for a CPU: no idle moment


def shares_socket(options: Options) -> bool:
    """Whether other workers accept from this worker's socket (as far as it knows)."""
    return options.workers > 1


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
        turnover: float = TURNOVER,
        clock: Callable[[], float] = time.perf_counter,
        busy: Callable[[], float] = busy_time,
    ) -> None:
        self.waiting = waiting  # requests waiting for a view thread
        self.turnover = turnover
        self.clock = clock
        self.busy = busy
        self.since = clock()
        self.busy_since = busy()

    def due(self, held: int) -> bool:
        """Whether to give a connection back now, holding ``held``: once per ``turnover / held``
        seconds while the worker was busy all along (a worker busy with one client keeps it)."""
        now = self.clock()
        if held < 2 or now - self.since < max(FASTEST, self.turnover / held):
            return False
        busy = self.busy()
        was_busy = busy - self.busy_since >= BUSY * (now - self.since) or self.waiting() > 0
        self.since, self.busy_since = now, busy
        return was_busy
