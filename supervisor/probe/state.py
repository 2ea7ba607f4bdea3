"""The probe's only state: the latest snapshot and when it arrived."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from supervisor import health
from supervisor.options import Options
from supervisor.protocol import CheckResult, Snapshot, WorkerReport
from supervisor.wire import to_wire

Check = Callable[[Snapshot, float, Options], health.Verdict]


class ProbeState:
    def __init__(self, options: Options, clock: Callable[[], float] = time.monotonic) -> None:
        self.options = options
        self.clock = clock
        self.snapshot: Snapshot | None = None
        self.received_at = 0.0

    def update(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.received_at = self.clock()

    def age(self) -> float:
        """Seconds since the latest snapshot arrived."""
        return self.clock() - self.received_at

    def answer(self, check: Check) -> tuple[int, dict[str, Any]]:
        """HTTP status and JSON body for one probe."""
        if self.snapshot is None:
            return 503, {"status": "failing", "reason": "the supervisor has not reported yet"}
        age = self.age()
        verdict = check(self.snapshot, age, self.options)
        body = {
            "status": "ok" if verdict.ok else "failing",
            "reason": verdict.reason,
            "phase": self.snapshot.phase,
            "version": self.snapshot.versions,
            "workers": [summary(w, age) for w in self.snapshot.workers],
        }
        return (200 if verdict.ok else 503), body


def summary(worker: WorkerReport, age: float) -> dict[str, Any]:
    heartbeat = worker.heartbeat
    return {
        "worker": worker.worker,
        "pid": worker.pid,
        "state": worker.state,
        "heartbeat_age_s": round(health.hb_age(worker, age), 3),
        "restarts": worker.restarts,
        "last_exit": worker.last_exit,
        "in_flight": heartbeat.in_flight,
        "queued": heartbeat.queued,
        "connections": heartbeat.connections,
        "websockets": heartbeat.websockets,
        "requests_total": heartbeat.requests_total,
        "rss_bytes": heartbeat.rss_bytes,
        "checks": {tag: check_summary(result) for tag, result in heartbeat.checks.items()},
        **({} if heartbeat.consumer is None else {"consumer": to_wire(heartbeat.consumer)}),
    }


def check_summary(result: CheckResult) -> dict[str, Any]:
    """A tag's verdict, with its errors when it failed (hints only come from a DEBUG worker)."""
    if result.ok:
        return {"ok": True}
    errors = [{k: v for k, v in to_wire(e).items() if v is not None} for e in result.errors]
    return {"ok": False, "errors": errors}
