"""The worker's heartbeat with its counters: it must stay one atomic pipe write."""

import json
import os

from hurricane.worker.heartbeat import HeartbeatSender, ResidentMemory, fit
from hurricane.worker.stats import RequestStats
from supervisor import counters, protocol
from supervisor.wire import from_wire


class Checks:
    """Stands in for CheckRunner: reports whatever the test gives it."""

    def __init__(self, checks, db):
        self.checks, self.db = checks, db

    def report(self, now):
        return self.checks, self.db


def busiest_stats():
    """Every method label and status class used, with counts as long as they get."""
    stats = RequestStats()
    for method in [*counters.METHODS, "BREW"]:
        for status in (100, 200, 300, 400, 500, 999):
            key = stats.begin(method, "/" + "p" * 5000)
            stats.responded(key, status)
            stats.end(key)
    stats.begin("GET", "/" + "p" * 5000)  # still running: the heartbeat names it
    for method in stats.responses.values():
        for klass in method:
            method[klass] = 10**15
    stats.latency.buckets = [10**15] * len(stats.latency.buckets)
    stats.latency.sum_s = 10.0**12 + 0.123456
    return stats


def long_error(i):
    return {"id": f"app.E{i:03d}", "level": "CRITICAL", "msg": "x" * 1500, "hint": "h" * 1500}


def typed(checks, db):
    """The check results as the runner reports them, from their wire form."""
    return (
        {tag: from_wire(protocol.CheckResult, r) for tag, r in checks.items()},
        {alias: from_wire(protocol.DbResult, r) for alias, r in db.items()},
    )


def sender(stats, checks=None, db=None):
    return HeartbeatSender(None, 3, 1.0, 8, stats, Checks(*typed(checks or {}, db or {})))


def heartbeat_line(checks, db):
    return fit(sender(busiest_stats(), checks, db).message(0.0))


def test_counters_ride_on_the_heartbeat():
    beat = sender(RequestStats())
    key = beat.stats.begin("GET", "/missing")
    beat.stats.responded(key, 404)
    beat.stats.end(key)
    msg = json.loads(fit(beat.message(0.0)))
    assert msg["counters"]["responses"] == {"GET": {"4xx": 1}}
    assert msg["counters"]["latency"]["buckets"][-1] == 1
    assert len(msg["counters"]["latency"]["buckets"]) == len(counters.LATENCY_BUCKETS) + 1


def test_memory_is_read_without_opening_a_file_per_heartbeat():
    memory = ResidentMemory()
    before = len(os.listdir("/proc/self/fd"))
    assert all(memory.read() > 1 << 20 for _ in range(10))
    assert len(os.listdir("/proc/self/fd")) == before


def test_a_measurement_that_fails_is_reported_and_the_heartbeat_still_goes_out():
    beat = sender(RequestStats())

    def broken():
        raise OSError(24, "Too many open files")

    beat.memory.read = broken
    msg = json.loads(fit(beat.message(0.0)))
    assert msg["rss_bytes"] is None
    assert msg["unmeasured"] == {"rss": "OSError: [Errno 24] Too many open files"}


def test_busiest_heartbeat_with_passing_checks_fits_whole():
    ok = {"ok": True, "errors": [], "took_ms": 1.0, "age_s": 0.1}
    line = heartbeat_line(dict.fromkeys(("startup", "liveness", "readiness"), ok), {"default": {"ok": True}})
    assert len(line) < protocol.MAX_LINE
    msg = json.loads(line)
    assert msg["counters"]["responses"]["OTHER"]["other"] == 10**15
    assert len(msg["counters"]["responses"]) == len(counters.METHODS) + 1
    assert msg["oldest_request"]["method"] == "GET"


def test_heartbeat_with_many_long_errors_still_fits_and_keeps_verdicts():
    failing = {"ok": False, "errors": [long_error(i) for i in range(20)], "took_ms": 1.0, "age_s": 0.1}
    checks = {t: dict(failing) for t in ("startup", "liveness", "readiness")}
    db = {f"alias{i}": {"ok": False, "msg": "y" * 1000, "took_ms": 1.0} for i in range(3)}
    line = heartbeat_line(checks, db)
    assert len(line) < protocol.MAX_LINE
    msg = json.loads(line)
    assert all(not msg["checks"][t]["ok"] for t in checks)
    assert msg["checks"]["liveness"]["errors"][0]["id"] == "app.E000"
    assert all(not r["ok"] for r in msg["db"].values())
    assert msg["counters"]["latency"]["buckets"][-1] == 10**15


def test_heartbeat_with_a_great_many_databases_falls_back_to_bare_verdicts():
    failing = {"ok": False, "errors": [long_error(0)], "took_ms": 1.0, "age_s": 0.1}
    db = {f"replica{i}": {"ok": i != 7, "msg": "z" * 300, "took_ms": 1.0} for i in range(15)}
    line = heartbeat_line({"readiness": failing}, db)
    assert len(line) < protocol.MAX_LINE
    msg = json.loads(line)
    assert msg["checks"]["readiness"]["ok"] is False
    assert msg["db"]["replica7"] == {"ok": False, "msg": "", "took_ms": None}
