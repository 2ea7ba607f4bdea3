"""Django's system checks and a database round-trip, run in the worker's background thread.

A check registered under the tag ``liveness``, ``readiness`` or ``startup``
(plainly or with ``deploy=True``) decides that probe: an ERROR or CRITICAL fails
it. Each check function runs on its own, so one that raises fails its tag with
its name and leaves the others' verdicts intact. Results ride on the heartbeat
(``protocol.CheckResult``, ``protocol.DbResult``); a probe request never runs a check.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from django.conf import settings
from django.core import checks
from django.db import connections

from hurricane.boot import describe
from supervisor.protocol import CheckError, CheckResult, DbResult

log = logging.getLogger("hurricane.worker")

TAGS = ("startup", "liveness", "readiness")
RAISED_ID = "hurricane.E001"
T = TypeVar("T")
CheckFunction = Callable[..., Iterable[checks.CheckMessage]]


def tagged(tag: str) -> list[CheckFunction]:
    """The checks registered with ``tag``, deployment checks included."""
    registered = checks.registry.registry.get_checks(include_deployment_checks=True)
    return [check for check in registered if tag in getattr(check, "tags", ())]


def check_name(check: CheckFunction) -> str:
    inner = getattr(check, "func", check)  # functools.partial, as some apps register
    return f"{getattr(inner, '__module__', '?')}.{getattr(inner, '__qualname__', repr(inner))}"


def run_tag(
    tag: str,
    debug: bool,
    running: Callable[[str], None] = lambda name: None,
    on_raise: Callable[[str, Exception], None] = lambda name, exc: None,
) -> CheckResult:
    """Run the checks registered with ``tag``; ERROR and CRITICAL fail it.

    ``running`` is told each check's name before it starts, so a timeout can say
    which one hangs; ``on_raise`` gets each check that raised, with the exception.
    """
    errors: list[CheckError] = []
    for check in tagged(tag):
        name = check_name(check)
        running(name)
        try:
            messages = list(check(app_configs=None, databases=None))
        except Exception as exc:
            on_raise(name, exc)
            errors.append(raised(name, exc, debug))
            continue
        errors.extend(entry(m, debug) for m in messages if m.is_serious() and not m.is_silenced())
    return CheckResult(ok=not errors, errors=tuple(errors))


def entry(message: checks.CheckMessage, debug: bool) -> CheckError:
    hint = str(message.hint) if debug and message.hint else None  # hints may name internals
    return CheckError(str(message.id), _level(message.level), str(message.msg), hint)


def raised(name: str, exc: BaseException, debug: bool) -> CheckError:
    """A check that raised: its name and the exception type; the message only when DEBUG."""
    what = f"{type(exc).__name__}: {exc}" if debug else type(exc).__name__
    return CheckError(RAISED_ID, "ERROR", f"{name} raised {what}")


def _level(level: int) -> str:
    return "CRITICAL" if level >= checks.CRITICAL else "ERROR"


def ping_databases() -> dict[str, DbResult]:
    """One real round-trip per configured database alias."""
    results: dict[str, DbResult] = {}
    for alias in connections:
        started = time.monotonic()
        connection = connections[alias]
        ok, msg = True, ""
        try:
            connection.close_if_unusable_or_obsolete()
            sql = "SELECT 1 FROM DUAL" if connection.vendor == "oracle" else "SELECT 1"
            with connection.cursor() as cursor:
                cursor.execute(sql)
                cursor.fetchone()
        except Exception as exc:
            connection.close_if_unusable_or_obsolete()
            ok, msg = False, f"{type(exc).__name__}: {exc}"[:300]
        finally:
            # This thread's connection (connections are per thread) dies with the thread:
            # close it now rather than leave it to the garbage collector.
            connection.close()
        results[alias] = DbResult(ok, msg, round(1000 * (time.monotonic() - started), 2))
    return results


def describe_errors(result: CheckResult) -> list[str]:
    return [f"{e.id}: {e.msg}" for e in result.errors]


def failed(why: str) -> CheckResult:
    return CheckResult(ok=False, errors=(CheckError(RAISED_ID, "ERROR", why),))


class CheckRunner:
    """Runs every tag, then the databases, every ``interval`` seconds, each within ``timeout``.

    A check that hangs is reported as failed and left to finish on its own thread;
    that tag is not started again until it does. Nothing a check does, short of
    ending the process, stops this loop.
    """

    def __init__(self, interval: float, timeout: float, on_round: Callable[[], None] = lambda: None) -> None:
        self.interval = interval
        self.timeout = timeout
        self.debug = bool(settings.DEBUG)
        self.on_round = on_round  # called from the checks thread after every round
        self.checks: dict[str, tuple[CheckResult, float]] = {}  # tag -> (result, when)
        self.db: dict[str, DbResult] = {}
        self._running: dict[str, threading.Thread] = {}
        self._current: dict[str, str] = {}  # tag -> the check it is running now
        self._failures: dict[str, list[str]] = {}  # tag or database -> what the log last said
        self._raising: set[str] = set()  # checks that raised last round: logged already
        self._raised_now: set[str] = set()
        self._wake = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._loop, name="hurricane-checks", daemon=True).start()

    def _loop(self) -> None:
        while True:
            self.run_round()
            self._wake.wait(self.interval)
            self._wake.clear()

    def run_round(self) -> None:
        results = {tag: self._tag(tag) for tag in TAGS}
        took, db, why = self._limited("db", ping_databases)
        if db is None:  # the round-trip itself failed or timed out
            db = {"*": DbResult(False, why or "failed", 0.0)}
        now = time.monotonic()
        self.checks = {tag: (result, now) for tag, result in results.items()}
        self.db = db
        self.log_changes(results, db)
        self.on_round()

    def _tag(self, tag: str) -> CheckResult:
        running = functools.partial(self._current.__setitem__, tag)
        on_raise = functools.partial(self._on_raise, tag)
        took, result, why = self._limited(tag, lambda: run_tag(tag, self.debug, running, on_raise))
        if result is None:
            return failed(why or f"{tag} checks failed")
        return dataclasses.replace(result, took_ms=took)

    def _on_raise(self, tag: str, name: str, exc: Exception) -> None:
        """Log a raising check's traceback once, not every round while it keeps raising."""
        if name not in self._raising:
            log.warning("%s check %s raised %s", tag, name, describe(exc), exc_info=exc)
        self._raised_now.add(name)

    def log_changes(self, results: dict[str, CheckResult], db: dict[str, DbResult]) -> None:
        """Log when a tag or database starts failing, fails differently, or recovers."""
        self._raising, self._raised_now = self._raised_now, set()
        verdicts = {f"{tag} checks": describe_errors(r) for tag, r in results.items()}
        verdicts.update({f"database {a}": [r.msg] if not r.ok else [] for a, r in db.items()})
        for what, failures in verdicts.items():
            before = self._failures.get(what, [])
            if failures == before:
                continue
            self._failures[what] = failures
            if failures:
                log.warning("%s failing: %s", what, "; ".join(failures))
            else:
                log.info("%s ok again", what)

    def _limited(self, name: str, fn: Callable[[], T]) -> tuple[float, T | None, str | None]:
        """Run ``fn`` on a thread of its own within the timeout: (milliseconds, result, why not)."""
        previous = self._running.get(name)
        if previous is not None and previous.is_alive():
            return 0.0, None, f"{self._what(name)} still running after {self.timeout:.1f}s"
        box: list[T] = []
        raised: list[str] = []
        started = time.monotonic()

        def target() -> None:
            try:
                box.append(fn())
            except BaseException as exc:  # even SystemExit must not end the checks
                log.warning("%s checks raised %s", name, type(exc).__name__, exc_info=True)
                raised.append(type(exc).__name__)

        thread = threading.Thread(target=target, name=f"hurricane-check-{name}", daemon=True)
        self._running[name] = thread
        thread.start()
        thread.join(self.timeout)
        took = round(1000 * (time.monotonic() - started), 2)
        if thread.is_alive():
            return took, None, f"{self._what(name)} timed out after {self.timeout:.1f}s"
        if not box:
            return took, None, f"{name} checks raised {raised[0] if raised else 'an exception'}"
        return took, box[0], None

    def _what(self, name: str) -> str:
        current = self._current.get(name)
        return f"{name} check {current}" if current else f"{name} checks"

    def report(self, now: float) -> tuple[dict[str, CheckResult], dict[str, DbResult]]:
        """Check results as the heartbeat carries them, with their age."""
        reported = {
            tag: dataclasses.replace(result, age_s=round(now - at, 2))
            for tag, (result, at) in self.checks.items()
        }
        return reported, self.db
