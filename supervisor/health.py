"""Probe verdicts from a health snapshot: pure functions, no I/O, no clock of their own.

The supervisor builds the snapshot from heartbeats; the probe process keeps the
latest one and calls these with the snapshot's age. docs/architecture.md has the
probe table. A consumer worker's heartbeat carries its broker connection: a
broker outage fails readiness and never liveness, as a database outage does.
"""

from __future__ import annotations

from dataclasses import dataclass

from supervisor.options import Options
from supervisor.protocol import BrokerLink, Heartbeat, PrestartStatus, Snapshot, WorkerReport, WorkerState


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    reason: str


OK = Verdict(True, "ok")


def stale_after(options: Options) -> float:
    """A heartbeat older than this no longer makes a worker count as ready."""
    return min(options.heartbeat_timeout, 3 * options.heartbeat_interval)


def hb_age(worker: WorkerReport, age: float) -> float:
    """Seconds since the worker's last heartbeat, for a snapshot received ``age`` seconds ago."""
    return worker.hb_age_s + age


def checks_reported(heartbeat: Heartbeat, tag: str) -> bool:
    """Whether the worker has run the checks tagged ``tag`` at least once."""
    return tag in heartbeat.checks


def check_failure(heartbeat: Heartbeat, tag: str) -> str | None:
    """Why the latest run of the checks tagged ``tag`` failed, or None if it passed."""
    result = heartbeat.checks.get(tag)
    if result is None:
        return f"{tag} checks have not run yet"
    if result.ok:
        return None
    if not result.errors:
        return f"{tag} checks failed"
    first = result.errors[0]
    detail = first.id or "check"
    if first.msg:
        detail += f": {first.msg}"
    more = f" (+{len(result.errors) - 1} more)" if len(result.errors) > 1 else ""
    return f"{tag} check {detail}{more}"


def readiness_failure(heartbeat: Heartbeat) -> str | None:
    """Why a worker's readiness checks or database round-trips failed, or, for a consumer
    worker, why it receives no messages; None if nothing did."""
    return check_failure(heartbeat, "readiness") or db_failure(heartbeat) or consumer_failure(heartbeat)


def consumer_failure(heartbeat: Heartbeat) -> str | None:
    """Why a consumer worker receives no messages now (None for an HTTP worker)."""
    consumer = heartbeat.consumer
    if consumer is None:
        return None
    if consumer.link is not BrokerLink.CONNECTED:
        error = f": {consumer.error}" if consumer.error else ""
        return f"broker {consumer.link}{error}"
    if not consumer.registered:
        return "consumer not registered with the broker yet"
    return None


def handler_running_s(worker: WorkerReport, age: float) -> float:
    """How long a consumer worker's longest-running handler has run by now (0.0: none runs)."""
    consumer = worker.heartbeat.consumer
    if consumer is None or not consumer.in_flight:
        return 0.0
    return consumer.oldest_s + hb_age(worker, age)


def handler_overdue(worker: WorkerReport, age: float, options: Options) -> str | None:
    """Why a consumer worker counts as stuck: a handler has run past --handler-timeout."""
    limit = options.handler_timeout
    running = handler_running_s(worker, age)
    if limit is None or running <= limit:
        return None
    return f"worker {worker.worker}: a message handler has run {running:.1f}s (--handler-timeout {limit:g}s)"


def db_failure(heartbeat: Heartbeat) -> str | None:
    for alias, result in sorted(heartbeat.db.items()):
        if not result.ok:
            return f"database {alias}: {result.msg or 'unreachable'}"
    return None


def ready_workers(snapshot: Snapshot, age: float, options: Options) -> list[WorkerReport]:
    limit = stale_after(options)
    return [w for w in snapshot.workers if w.state is WorkerState.READY and hb_age(w, age) <= limit]


def startup(snapshot: Snapshot, age: float, options: Options) -> Verdict:
    if snapshot.startup_done:
        return OK
    if snapshot.prestart is not PrestartStatus.DONE:
        stage = f": {snapshot.prestart_stage}" if snapshot.prestart_stage else ""
        return Verdict(False, f"prestart commands {snapshot.prestart}{stage}")
    workers = ready_workers(snapshot, age, options)
    if not workers:
        return Verdict(False, "no worker is ready yet")
    reasons = [check_failure(w.heartbeat, "startup") or consumer_failure(w.heartbeat) for w in workers]
    if None in reasons:
        return OK
    return Verdict(False, str(reasons[0]))


def ready(snapshot: Snapshot, age: float, options: Options) -> Verdict:
    if snapshot.phase.shutting_down:
        return Verdict(False, "shutting down")
    if not snapshot.startup_done:
        return Verdict(False, "not started yet")
    workers = ready_workers(snapshot, age, options)
    if not workers:
        return Verdict(False, "no worker with a fresh heartbeat is ready")
    reason = ""
    for worker in workers:
        heartbeat = worker.heartbeat
        why = readiness_failure(heartbeat)
        if why is None and heartbeat.queued >= options.req_queue_len:
            why = f"{heartbeat.queued} requests queued (limit {options.req_queue_len})"
        if why is None:
            return OK
        reason = reason or why
    return Verdict(False, reason)


def alive(snapshot: Snapshot, age: float, options: Options) -> Verdict:
    if age > max(5.0, 5 * options.heartbeat_interval):
        return Verdict(False, f"no news from the supervisor for {age:.1f}s")
    if not snapshot.startup_done:
        return OK  # the startup probe guards this phase
    healthy = [
        w
        for w in snapshot.workers
        if w.state in (WorkerState.READY, WorkerState.DRAINING) and hb_age(w, age) < options.heartbeat_timeout
    ]
    for worker in healthy:
        heartbeat = worker.heartbeat
        # Checks not run yet say nothing about liveness; startup and readiness wait for them.
        why = check_failure(heartbeat, "liveness") if checks_reported(heartbeat, "liveness") else None
        # A worker already being stopped is the supervisor's to finish; the others are stuck.
        if why is None and worker.retiring is None:
            why = handler_overdue(worker, age, options)
        if why is not None:
            return Verdict(False, why)
    if healthy:
        return OK
    since = snapshot.since_healthy_s + age
    if since < options.liveness_grace:
        return Verdict(True, f"restarting workers (no healthy worker for {since:.1f}s)")
    return Verdict(False, f"no healthy worker for {since:.1f}s")
