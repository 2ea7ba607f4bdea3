"""The supervisor's clock: monotonic time that stands still while the supervisor could not look.

A supervisor that was stopped (SIGSTOP, a paused VM, a frozen cgroup) or starved
of CPU did not read its children's heartbeats meanwhile; their silence is its own.
Every deadline it keeps (hang, startup timeout, kill escalation, phases) is
measured on this clock, so the time it did not run counts for none of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

STALL_AFTER = 1.0  # seconds a step may run late before the time counts as not looked


class WatchClock:
    def __init__(self, source: Callable[[], float] = time.monotonic) -> None:
        self.source = source
        self.skipped = 0.0  # stalled time, left out of every reading
        self.last_lap = source()

    def __call__(self) -> float:
        return self.source() - self.skipped

    def lap(self, expected: float) -> float | None:
        """Once per loop step, after a wait of at most ``expected`` seconds: how long the
        step ran late, if it stalled, and that time is skipped from now on."""
        now = self.source()
        late = now - self.last_lap - expected
        self.last_lap = now
        if late <= STALL_AFTER:
            return None
        self.skipped += late
        return late
