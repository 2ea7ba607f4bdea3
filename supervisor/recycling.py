"""Replacing healthy workers one at a time, each replacement ready before the old one drains.

A worker becomes *due* (max-requests, max-memory, max-age, request-timeout,
SIGHUP, a code change); the pool starts one replacement at a time and retires
the old worker once the new one serves. A replacement that fails leaves the old
worker serving and its slot waits ``retry_after`` before the next attempt.
"""

from __future__ import annotations

from dataclasses import dataclass

from supervisor.protocol import RestartReason
from supervisor.workers import WorkerHandle


@dataclass
class Replacement:
    old: WorkerHandle
    new: WorkerHandle
    reason: RestartReason


class Recycler:
    def __init__(self) -> None:
        self.due: dict[int, tuple[WorkerHandle, RestartReason]] = {}  # by pid, in order
        self.current: Replacement | None = None
        self.retry_after: dict[int, float] = {}  # slot index -> when it may be tried again

    def request(self, worker: WorkerHandle, reason: RestartReason, now: float) -> bool:
        """Mark a serving worker due for replacement; False if it is due, being replaced,
        itself a replacement, or its slot's last attempt failed too recently."""
        current = self.current
        if worker.pid in self.due or not worker.active:
            return False
        if current is not None and worker in (current.old, current.new):
            return False
        if now < self.retry_after.get(worker.index, 0.0):
            return False
        self.due[worker.pid] = (worker, reason)
        return True

    def reason(self, worker: WorkerHandle) -> RestartReason | None:
        """Why the worker is due or being replaced, if it is."""
        if self.current is not None and self.current.old is worker:
            return self.current.reason
        entry = self.due.get(worker.pid)
        return None if entry is None else entry[1]

    def successor(self, worker: WorkerHandle) -> WorkerHandle | None:
        if self.current is not None and self.current.old is worker:
            return self.current.new
        return None

    def is_replacement(self, worker: WorkerHandle) -> bool:
        return self.current is not None and self.current.new is worker

    def start(self, old: WorkerHandle, new: WorkerHandle, reason: RestartReason) -> None:
        self.current = Replacement(old, new, reason)

    def next_due(self) -> tuple[WorkerHandle, RestartReason] | None:
        """The next worker to replace that still serves (the others are forgotten)."""
        while self.due:
            pid = next(iter(self.due))
            worker, reason = self.due.pop(pid)
            if worker.active:
                return worker, reason
        return None

    def forget(self, worker: WorkerHandle) -> None:
        """The worker stopped or died: nothing to replace any more."""
        self.due.pop(worker.pid, None)
        if self.current is not None and self.current.old is worker:
            self.current = None  # its replacement simply takes over the slot

    def abandon(self, now: float, delay: float) -> WorkerHandle | None:
        """The replacement failed: the old worker keeps serving; its slot waits ``delay``."""
        current, self.current = self.current, None
        if current is None:
            return None
        self.retry_after[current.old.index] = now + delay
        return current.old

    def retry_now(self) -> None:
        """A code change: the next attempt need not wait for an earlier failure's delay."""
        self.retry_after.clear()

    @property
    def reloading(self) -> bool:
        """A SIGHUP reload is under way (systemd hears READY=1 when it is done)."""
        reasons = [reason for _, reason in self.due.values()]
        if self.current is not None:
            reasons.append(self.current.reason)
        return RestartReason.RELOAD in reasons
