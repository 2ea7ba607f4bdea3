"""How long a consumer waits before it connects to the broker again."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """1 s, doubling up to 30 s, each with ±20% jitter so that workers do not reconnect in step."""

    base: float = 1.0
    cap: float = 30.0
    attempts: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next(self) -> float:
        delay: float = self.base * 2 ** min(self.attempts, 16) * self.rng.uniform(0.8, 1.2)
        self.attempts += 1
        return min(self.cap, delay)

    def reset(self) -> None:
        self.attempts = 0
