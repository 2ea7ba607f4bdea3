"""When to restart a crashed worker: at once, then with capped exponential backoff."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RestartPolicy:
    """Backoff for one worker slot. The clock is passed in, so tests never wait.

    The first crash restarts at once; each further crash without a healthy
    stretch of ``reset_after`` seconds in between doubles the delay, up to ``cap``.
    """

    base: float = 0.5
    cap: float = 30.0
    reset_after: float = 30.0
    crashes: int = 0
    healthy_since: float | None = None

    def on_crash(self, now: float) -> float:
        """Record a crash at ``now``; return seconds to wait before respawning."""
        if self.healthy_since is not None and now - self.healthy_since >= self.reset_after:
            self.crashes = 0
        self.healthy_since = None
        self.crashes += 1
        if self.crashes == 1:
            return 0.0
        return float(min(self.cap, self.base * 2 ** (self.crashes - 2)))

    def on_healthy(self, now: float) -> None:
        """The worker in this slot is serving; a long enough stretch forgives past crashes."""
        if self.healthy_since is None:
            self.healthy_since = now
        elif now - self.healthy_since >= self.reset_after:
            self.crashes = 0
