"""The worker's heartbeat: sent from the event loop, so a blocked loop goes silent."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import psutil
from tornado.ioloop import PeriodicCallback

from hurricane import debugging
from hurricane.checks import CheckRunner
from hurricane.worker.placement import RoutePlacement
from hurricane.worker.stats import RequestStats
from supervisor import protocol

log = logging.getLogger("hurricane.worker")


class Heartbeat:
    def __init__(
        self,
        pipe: int,
        index: int,
        interval: float,
        threads: int,
        stats: RequestStats,
        checks: CheckRunner,
        placement: RoutePlacement | None = None,
    ) -> None:
        self.pipe = pipe
        self.index = index
        self.interval = interval
        self.threads = threads
        self.stats = stats
        self.checks = checks
        self.placement = placement
        self.state = "booting"
        self.seq = 0
        self.loop_lag = 0.0
        self._last = time.monotonic()
        self._process = psutil.Process()
        self._timer = PeriodicCallback(self.beat, interval * 1000)

    def start(self) -> None:
        self._last = time.monotonic()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def send_now(self) -> None:
        """An extra heartbeat, for news that should not wait (new check results)."""
        self.send(self.message(time.monotonic()))

    def beat(self) -> None:
        now = time.monotonic()
        # How late this callback ran: the event loop's lag.
        self.loop_lag = max(0.0, now - self._last - self.interval)
        self._last = now
        self.send(self.message(now))

    def message(self, now: float) -> dict[str, Any]:
        self.seq += 1
        checks, db = self.checks.report(now)
        oldest = self.stats.oldest()
        return {
            "pid": os.getpid(),
            "worker": self.index,
            "seq": self.seq,
            "state": self.state,
            "loop_lag_ms": round(1000 * self.loop_lag, 2),
            "in_flight": self.stats.in_flight,
            "queued": self.stats.queued,
            "threads": self.threads,
            "requests_total": self.stats.requests_total,
            "oldest_request_s": oldest["age_s"] if oldest else 0.0,
            "oldest_request": oldest,
            "rss_bytes": self._process.memory_info().rss,
            "checks": checks,
            "db": db,
            "debugger": debugging.attached(),  # a breakpoint may pause the loop: not a hang
            "routes": {} if self.placement is None else self.placement.counts(),
            **self.stats.counters(),
        }

    def send(self, msg: dict[str, Any]) -> None:
        line = fit(msg)
        try:
            if not protocol.write_line(self.pipe, line):
                log.debug("heartbeat dropped: the supervisor is not reading")
        except BrokenPipeError:
            log.error("the supervisor is gone: exiting")
            os._exit(protocol.EXIT_PARENT_GONE)


def fit(msg: dict[str, Any]) -> bytes:
    """Encode a heartbeat as one atomic write, shortening check details if it must."""
    for shorten in (lambda m: m, shrink, bare):
        try:
            return protocol.encode(shorten(msg))
        except protocol.LineTooLong:
            continue
    raise protocol.LineTooLong("a heartbeat without details is still too long")


def bare(msg: dict[str, Any]) -> dict[str, Any]:
    """The last resort: verdicts only, no messages."""
    checks = {tag: {"ok": r.get("ok"), "age_s": r.get("age_s")} for tag, r in msg.get("checks", {}).items()}
    db = {alias: {"ok": r.get("ok")} for alias, r in msg.get("db", {}).items()}
    return {**msg, "checks": checks, "db": db}


def shrink(msg: dict[str, Any]) -> dict[str, Any]:
    """Fit a heartbeat into one atomic write: keep the first error of each check, shortened."""
    checks = {}
    for tag, result in msg.get("checks", {}).items():
        errors = result.get("errors", [])
        first = [{**e, "msg": str(e.get("msg", ""))[:200], "hint": None} for e in errors[:1]]
        if len(errors) > 1:
            first.append({"id": "hurricane.W001", "level": "ERROR", "msg": f"+{len(errors) - 1} more"})
        checks[tag] = {**result, "errors": first}
    db = {a: {**r, "msg": str(r.get("msg", ""))[:200]} for a, r in msg.get("db", {}).items()}
    return {**msg, "checks": checks, "db": db}
