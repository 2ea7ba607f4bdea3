"""The probe's only state: the latest snapshot and when it arrived."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from supervisor import health
from supervisor.options import Options

Check = Callable[[health.Snapshot, float, Options], health.Verdict]


class ProbeState:
    def __init__(self, options: Options, clock: Callable[[], float] = time.monotonic) -> None:
        self.options = options
        self.clock = clock
        self.snapshot: health.Snapshot | None = None
        self.received_at = 0.0

    def update(self, snapshot: health.Snapshot) -> None:
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
            "phase": self.snapshot.get("phase"),
            "workers": [summary(w, age) for w in self.snapshot.get("workers", [])],
        }
        return (200 if verdict.ok else 503), body


def summary(worker: dict[str, Any], age: float) -> dict[str, Any]:
    heartbeat = worker.get("heartbeat", {})
    return {
        "worker": worker.get("worker"),
        "pid": worker.get("pid"),
        "state": worker.get("state"),
        "heartbeat_age_s": round(health.hb_age(worker, age), 3),
        "restarts": worker.get("restarts", 0),
        "last_exit": worker.get("last_exit"),
        "in_flight": heartbeat.get("in_flight", 0),
        "queued": heartbeat.get("queued", 0),
        "requests_total": heartbeat.get("requests_total", 0),
        "rss_bytes": heartbeat.get("rss_bytes"),
        "checks": {tag: check_summary(result) for tag, result in heartbeat.get("checks", {}).items()},
    }


def check_summary(result: dict[str, Any]) -> dict[str, Any]:
    """A tag's verdict, with its errors when it failed (hints only come from a DEBUG worker)."""
    if result.get("ok"):
        return {"ok": True}
    return {"ok": False, "errors": result.get("errors", [])}
