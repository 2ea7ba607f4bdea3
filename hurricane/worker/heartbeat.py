"""The worker's heartbeat: sent from the event loop, so a blocked loop goes silent.

A heartbeat never fails for want of a measurement: what cannot be measured is
reported in the heartbeat (``unmeasured``) instead, and measuring needs no new
file descriptor, so a worker out of descriptors still beats.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

from hurricane import debugging
from hurricane.checks import CheckRunner
from hurricane.worker.placement import RoutePlacement
from hurricane.worker.stats import RequestStats

if TYPE_CHECKING:
    from hurricane.worker.upgrades import WebSocketUpgrades
from supervisor import protocol
from supervisor.child import ParentPipe
from supervisor.protocol import (
    CheckError,
    CheckResult,
    ConsumerState,
    Counters,
    DbResult,
    Heartbeat,
    MessageCounts,
    WorkerState,
)

log = logging.getLogger("hurricane.worker")

T = TypeVar("T")


class ResidentMemory:
    """The process's resident set size, read from a ``/proc/self/statm`` kept open."""

    def __init__(self) -> None:
        self.page = os.sysconf("SC_PAGE_SIZE")
        try:
            self.fd: int | None = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:  # not Linux: psutil opens what it needs on each call
            self.fd = None

    def read(self) -> int:
        if self.fd is None:
            import psutil

            return int(psutil.Process().memory_info().rss)
        return int(os.pread(self.fd, 256, 0).split()[1]) * self.page


class ConsumerReport(Protocol):
    """What a consumer worker tells its heartbeat (``hurricane.consumer.stats``)."""

    def state(self) -> ConsumerState: ...

    def counts(self) -> MessageCounts: ...


class HeartbeatSender:
    """Builds and sends this worker's heartbeats every ``interval`` seconds, on the loop.

    An HTTP worker reports its requests (``stats``, ``placement``); a consumer
    worker its broker connection and messages (``consumer``).
    """

    def __init__(
        self,
        parent: ParentPipe,
        index: int,
        interval: float,
        threads: int,
        stats: RequestStats | None,
        checks: CheckRunner,
        placement: RoutePlacement | None = None,
        connections: Callable[[], int] = lambda: 0,
        upgrades: WebSocketUpgrades | None = None,
        consumer: ConsumerReport | None = None,
    ) -> None:
        self.parent = parent
        self.index = index
        self.interval = interval
        self.threads = threads
        self.stats = stats
        self.checks = checks
        self.placement = placement
        self.connections = connections
        self.upgrades = upgrades
        self.consumer = consumer
        self.state = WorkerState.BOOTING
        self.loop_lag = 0.0
        self.memory = ResidentMemory()
        self._last = time.monotonic()
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._last = time.monotonic()
        self._timer = asyncio.get_running_loop().call_later(self.interval, self._tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tick(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self.interval, self._tick)
        self.beat()

    def send_now(self) -> None:
        """An extra heartbeat, for news that should not wait (new check results)."""
        self.send(self.message(time.monotonic()))

    def beat(self) -> None:
        now = time.monotonic()
        # How late this callback ran: the event loop's lag.
        self.loop_lag = max(0.0, now - self._last - self.interval)
        self._last = now
        self.send(self.message(now))

    def message(self, now: float) -> Heartbeat:
        unmeasured: dict[str, str] = {}
        checks, db = self.checks.report(now)
        stats, consumer = self.stats, self.consumer
        return Heartbeat(
            pid=os.getpid(),
            worker=self.index,
            state=self.state,
            loop_lag_ms=round(1000 * self.loop_lag, 2),
            in_flight=0 if stats is None else stats.in_flight,
            queued=0 if stats is None else stats.queued,
            connections=self.connections(),
            websockets=0 if self.upgrades is None else len(self.upgrades.sessions),
            threads=self.threads,
            requests_total=0 if stats is None else stats.requests_total,
            oldest_request=None if stats is None else stats.oldest(),
            rss_bytes=measured("rss", self.memory.read, unmeasured),
            checks=checks,
            db=db,
            debugger=bool(measured("debugger", debugging.attached, unmeasured)),
            routes={} if self.placement is None else self.placement.counts(),
            counters=self.counters(),
            unmeasured=unmeasured,
            consumer=None if consumer is None else consumer.state(),
        )

    def counters(self) -> Counters:
        counters = Counters() if self.stats is None else self.stats.counters()
        if self.consumer is not None:
            counters = dataclasses.replace(counters, messages=self.consumer.counts())
        if self.upgrades is not None:
            counts = self.upgrades.counts
            counters = dataclasses.replace(
                counters,
                websocket_messages={"in": counts.messages_in, "out": counts.messages_out},
                websocket_closes=dict(counts.closes),
                websocket_refused=dict(counts.refused),
            )
        return counters

    def send(self, heartbeat: Heartbeat) -> None:
        if not self.parent.send_line(fit(heartbeat)):
            log.debug("heartbeat dropped: the supervisor is not reading")


def measured(what: str, read: Callable[[], T], unmeasured: dict[str, str]) -> T | None:
    """``read()``, or None with the reason noted in ``unmeasured``: a heartbeat never fails."""
    try:
        return read()
    except Exception as exc:
        unmeasured[what] = f"{type(exc).__name__}: {exc}"[:200]
        return None


def fit(heartbeat: Heartbeat) -> bytes:
    """Encode a heartbeat as one atomic write, shortening check details if it must."""
    for shorten in (lambda h: h, shrink, bare):
        try:
            return protocol.encode(shorten(heartbeat))
        except protocol.LineTooLong:
            continue
    raise protocol.LineTooLong("a heartbeat without details is still too long")


def bare(heartbeat: Heartbeat) -> Heartbeat:
    """The last resort: verdicts only, no messages."""
    checks = {tag: CheckResult(ok=r.ok, age_s=r.age_s) for tag, r in heartbeat.checks.items()}
    db = {alias: DbResult(ok=r.ok) for alias, r in heartbeat.db.items()}
    return dataclasses.replace(heartbeat, checks=checks, db=db, unmeasured={})


def shrink(heartbeat: Heartbeat) -> Heartbeat:
    """Fit a heartbeat into one atomic write: keep the first error of each check, shortened."""
    checks = {}
    for tag, result in heartbeat.checks.items():
        errors = [dataclasses.replace(e, msg=e.msg[:200], hint=None) for e in result.errors[:1]]
        if len(result.errors) > 1:
            errors.append(CheckError("hurricane.W001", "ERROR", f"+{len(result.errors) - 1} more"))
        checks[tag] = dataclasses.replace(result, errors=tuple(errors))
    db = {alias: dataclasses.replace(r, msg=r.msg[:200]) for alias, r in heartbeat.db.items()}
    return dataclasses.replace(heartbeat, checks=checks, db=db)
