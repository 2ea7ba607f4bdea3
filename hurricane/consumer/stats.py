"""What a consumer worker reports in its heartbeats: its broker link and its messages."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from supervisor.counters import HANDLER_BUCKETS, Histogram
from supervisor.protocol import BrokerLink, ConsumerState, MessageCounts, Outcome
from supervisor.workers import handled

MAX_ERROR = 300  # characters of a broker error kept for the heartbeat


class ConsumerStats:
    """Updated on the event loop; read by the heartbeat (``HeartbeatSender`` takes it as its
    ``consumer``)."""

    def __init__(self) -> None:
        self.link = BrokerLink.CONNECTING
        self.registered = False
        self.error = ""
        self.outcomes: Counter[Outcome] = Counter()
        self.duration = Histogram(HANDLER_BUCKETS)
        self.reconnects = 0
        self.last_message_at: float | None = None
        # (running, waiting, oldest start) of the messages held: set by the dispatcher
        self.holding: Callable[[], tuple[int, int, float | None]] = lambda: (0, 0, None)

    def received(self) -> None:
        self.last_message_at = time.monotonic()

    def settled(self, outcome: Outcome) -> None:
        self.outcomes[outcome] += 1

    def connected(self, again: bool) -> None:
        self.link, self.error = BrokerLink.CONNECTED, ""
        if again:
            self.reconnects += 1

    def disconnected(self, why: str) -> None:
        self.link, self.registered, self.error = BrokerLink.DISCONNECTED, False, why[:MAX_ERROR]

    def closed(self) -> None:
        self.link, self.registered = BrokerLink.CLOSED, False

    def state(self) -> ConsumerState:
        now = time.monotonic()
        running, waiting, oldest = self.holding()
        last = self.last_message_at
        return ConsumerState(
            link=self.link,
            registered=self.registered,
            error=self.error,
            in_flight=running,
            prefetched=waiting,
            oldest_s=0.0 if oldest is None else round(now - oldest, 3),
            since_message_s=None if last is None else round(now - last, 3),
        )

    def counts(self) -> MessageCounts:
        outcomes = {str(outcome): n for outcome, n in self.outcomes.items()}
        return MessageCounts(outcomes, self.duration.latency(), self.reconnects)

    @property
    def handled(self) -> int:
        """Messages whose handler finished, whatever the outcome (what --max-lifetime counts)."""
        return handled(self.counts())
