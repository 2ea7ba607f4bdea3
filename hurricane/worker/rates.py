"""The minimum data rate a client must keep up, both ways, once a grace period has passed.

A deadline that restarts with every byte lets a client hold a connection (and,
while it reads a response, a view thread) forever at a byte every few seconds.
A body that arrives, or a response that is taken, slower than ``--min-data-rate``
bytes per second on average, once ``--data-rate-grace`` has passed, is cut off.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MinimumRate:
    bytes_per_s: int  # 0: no minimum
    grace: float

    def deadline(self, started: float, moved: int) -> float | None:
        """When ``moved`` bytes since ``started`` fall below the rate, if no more move."""
        if not self.bytes_per_s:
            return None
        return started + max(self.grace, moved / self.bytes_per_s)

    def too_slow(self, started: float, moved: int, now: float) -> bool:
        deadline = self.deadline(started, moved)
        return deadline is not None and now >= deadline
