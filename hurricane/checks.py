"""Django's system checks and a database round-trip, run in the worker's background thread.

Results are plain dicts that ride on the heartbeat; a probe request never runs a check.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core import checks
from django.db import connections

log = logging.getLogger("hurricane.worker")

TAGS = ("startup", "liveness", "readiness")
Result = dict[str, Any]


def run_tag(tag: str) -> Result:
    """Run the checks registered with ``tag``; ERROR and CRITICAL fail it."""
    messages = checks.run_checks(tags=[tag], include_deployment_checks=True)
    errors = []
    for message in messages:
        if message.level < checks.ERROR:
            continue
        error = {"id": message.id, "level": _level(message.level), "msg": message.msg}
        if settings.DEBUG and message.hint:  # hints may name internals
            error["hint"] = message.hint
        errors.append(error)
    return {"ok": not errors, "errors": errors}


def _level(level: int) -> str:
    return "CRITICAL" if level >= checks.CRITICAL else "ERROR"


def ping_databases() -> dict[str, Result]:
    """One real round-trip per configured database alias."""
    results: dict[str, Result] = {}
    for alias in connections:
        started = time.monotonic()
        connection = connections[alias]
        try:
            connection.close_if_unusable_or_obsolete()
            sql = "SELECT 1 FROM DUAL" if connection.vendor == "oracle" else "SELECT 1"
            with connection.cursor() as cursor:
                cursor.execute(sql)
                cursor.fetchone()
            results[alias] = {"ok": True, "msg": ""}
        except Exception as exc:
            connection.close_if_unusable_or_obsolete()
            results[alias] = {"ok": False, "msg": f"{type(exc).__name__}: {exc}"[:300]}
        results[alias]["took_ms"] = round(1000 * (time.monotonic() - started), 2)
    return results


def failed(tag: str, why: str) -> Result:
    return {"ok": False, "errors": [{"id": "hurricane.E001", "level": "ERROR", "msg": why}]}


class CheckRunner:
    """Runs every tag, then the databases, every ``interval`` seconds, each within ``timeout``.

    A check that hangs is reported as failed and left to finish on its own thread;
    that tag is not started again until it does.
    """

    def __init__(self, interval: float, timeout: float) -> None:
        self.interval = interval
        self.timeout = timeout
        self.checks: dict[str, Result] = {}
        self.db: dict[str, Result] = {}
        self.rounds = 0
        self._running: dict[str, threading.Thread] = {}
        self._wake = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._loop, name="hurricane-checks", daemon=True).start()

    def _loop(self) -> None:
        while True:
            self.run_round()
            self._wake.wait(self.interval)
            self._wake.clear()

    def run_round(self) -> None:
        results = {tag: self._limited(tag, functools.partial(run_tag, tag)) for tag in TAGS}
        db = self._limited("db", ping_databases)
        now = time.monotonic()
        for result in results.values():
            result["at"] = now
        self.checks = results
        if "ok" in db:  # the round-trip itself failed or timed out
            db = {"*": {"ok": False, "msg": db["errors"][0]["msg"], "took_ms": 0.0}}
        self.db = db
        self.rounds += 1

    def _limited(self, name: str, fn: Callable[[], Any]) -> Any:
        previous = self._running.get(name)
        if previous is not None and previous.is_alive():
            return failed(name, f"{name} checks still running after {self.timeout:.1f}s")
        box: dict[str, Any] = {}
        started = time.monotonic()

        def target() -> None:
            try:
                box["result"] = fn()
            except Exception as exc:
                log.warning("%s checks raised %s: %s", name, type(exc).__name__, exc)
                box["result"] = failed(name, f"check raised {type(exc).__name__}: {exc}")

        thread = threading.Thread(target=target, name=f"hurricane-check-{name}", daemon=True)
        self._running[name] = thread
        thread.start()
        thread.join(self.timeout)
        if thread.is_alive():
            log.warning("%s checks did not finish within %.1fs", name, self.timeout)
            return failed(name, f"{name} checks timed out after {self.timeout:.1f}s")
        result = box["result"]
        if isinstance(result, dict) and "ok" in result:
            result["took_ms"] = round(1000 * (time.monotonic() - started), 2)
        return result

    def report(self, now: float) -> tuple[dict[str, Result], dict[str, Result]]:
        """Check results as the heartbeat carries them, with their age."""
        reported = {}
        for tag, result in self.checks.items():
            entry = {k: v for k, v in result.items() if k != "at"}
            entry["age_s"] = round(now - result["at"], 2)
            reported[tag] = entry
        return reported, self.db
