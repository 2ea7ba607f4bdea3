"""The worker processes: spawning, watching, replacing and recycling them.

The supervisor owns one pool. The pool decides what happens to each worker;
the supervisor decides when the whole server starts and stops.
"""

from __future__ import annotations

import logging
import os
import random
import selectors
import signal
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from supervisor import counters, health, protocol
from supervisor.options import Options
from supervisor.process import describe_exit, spawn
from supervisor.workers import Slot, Worker, limits, recycle_reason

log = logging.getLogger("hurricane.supervisor")

HANG_KILL_GRACE = 2.0  # a hung worker rarely handles SIGTERM; SIGKILL follows this soon


class WorkerPool:
    def __init__(
        self,
        options: Options,
        argv: list[str],
        selector: selectors.BaseSelector,
        clock: Callable[[], float],
    ) -> None:
        self.options = options
        self.argv = argv
        self.selector = selector
        self.clock = clock
        self.rng = random.Random()
        self.app_fd = -1  # set once the supervisor has the app socket
        self.workers: list[Worker] = []
        self.slots = {index: Slot() for index in range(options.workers)}
        self.recycles: deque[Worker] = deque()
        self.restarts: Counter[str] = Counter()
        self.retired = counters.Totals()  # dead workers' counts, so the sums never go backwards
        self.ever_ready = False
        self.fatal: str | None = None  # the application cannot boot: the server must stop
        self.last_healthy_at: float | None = None

    # -- spawning and hearing from workers ------------------------------------------

    def spawn(self, index: int, replaces: Worker | None = None) -> Worker:
        spec = {"options": self.options.to_json(), "index": index, "app_fd": self.app_fd}
        child = spawn("worker", self.argv, spec, [self.app_fd], with_pipe="from_child")
        request_limit, age_limit = limits(self.options, self.rng)
        worker = Worker(
            index,
            child,
            protocol.LineReader(f"worker {index}"),
            self.clock(),
            request_limit=request_limit,
            age_limit=age_limit,
            replaces=replaces,
        )
        assert child.pipe is not None
        self.selector.register(child.pipe, selectors.EVENT_READ, lambda: self.on_pipe(worker))
        self.workers.append(worker)
        if index in self.slots:
            self.slots[index].respawn_at = None
        log.info("%s started", worker.label())
        return worker

    def on_pipe(self, worker: Worker) -> None:
        assert worker.child.pipe is not None
        try:
            data = os.read(worker.child.pipe, 65536)
        except BlockingIOError:
            return
        if not data:
            self.close_pipe(worker)
            return
        for msg in worker.reader.feed(data):
            self.on_message(worker, msg)

    def close_pipe(self, worker: Worker) -> None:
        if worker.child.pipe is not None:
            self.selector.unregister(worker.child.pipe)
            worker.child.close_pipe()

    def drain_pipe(self, worker: Worker) -> None:
        """Read what a dead worker left in its pipe (its boot error, say), then close it."""
        while worker.child.pipe is not None:
            try:
                data = os.read(worker.child.pipe, 65536)
            except BlockingIOError:  # a grandchild may hold the write end: stop here
                data = b""
            if not data:
                self.close_pipe(worker)
                return
            for msg in worker.reader.feed(data):
                self.on_message(worker, msg)

    def on_message(self, worker: Worker, msg: dict[str, Any]) -> None:
        if msg.get("type") == "boot_error":
            worker.boot_error = str(msg.get("error", "unknown error"))
            return
        if msg.get("type") == "reload":
            self.reload_changed(str(msg.get("path", "?")))
            return
        now = self.clock()
        worker.heartbeat = msg
        worker.last_hb_at = now
        state = str(msg.get("state", "booting"))
        if state == "ready" and worker.state == "booting":
            log.info("%s ready in %.2fs", worker.label(), now - worker.spawned_at)
            self.ever_ready = True
        worker.state = state
        if state == "ready" and worker.active:
            reason = recycle_reason(worker, now, self.options)
            if reason is not None:
                self.recycle(worker, reason)

    # -- the periodic checks -----------------------------------------------------------

    def tick(self, now: float, running: bool) -> None:
        for worker in list(self.workers):
            self.watch(worker, now)
        self.track_health(now)
        if running:
            self.respawn_due(now)
            self.advance_recycle(now)

    def watch(self, worker: Worker, now: float) -> None:
        """Escalate stops that take too long; catch hung and stuck-booting workers."""
        if worker.retiring is not None:
            if worker.kill_at is not None and now >= worker.kill_at and worker.child.alive:
                log.warning("%s did not stop in time: killing it", worker.label())
                worker.child.send(signal.SIGKILL)
                worker.kill_at = None
            return
        opts = self.options
        if worker.state == "booting" and now - worker.spawned_at > opts.startup_timeout:
            log.error("%s still booting after %.1fs: replacing it", worker.label(), now - worker.spawned_at)
            self.replace(worker, "startup-timeout", now)
        elif worker.state != "booting" and worker.last_hb_at is not None:
            silent = now - worker.last_hb_at
            if silent > opts.heartbeat_timeout and not worker.heartbeat.get("debugger"):
                log.error(
                    "%s sent no heartbeat for %.1fs: hung; dumping its stacks and replacing it",
                    worker.label(),
                    silent,
                )
                worker.child.send(signal.SIGUSR1)  # faulthandler dumps every thread's stack
                worker.child.send(signal.SIGCONT)  # so a stopped worker can dump and die
                self.replace(worker, "hang", now)

    def track_health(self, now: float) -> None:
        limit = health.stale_after(self.options)
        for worker in self.workers:
            fresh = worker.last_hb_at is not None and now - worker.last_hb_at <= limit
            if worker.state == "ready" and worker.active and fresh:
                self.last_healthy_at = now
                slot = self.slots.get(worker.index)
                if slot is not None:
                    slot.policy.on_healthy(now)

    def respawn_due(self, now: float) -> None:
        active = {w.index for w in self.workers if w.active}
        for index, slot in self.slots.items():
            if index in active:
                slot.respawn_at = None
            elif slot.respawn_at is not None and now >= slot.respawn_at:
                self.spawn(index)

    # -- failures: replace at once, with backoff ------------------------------------------

    def replace(self, worker: Worker, reason: str, now: float) -> None:
        """Stop a failed worker quickly and schedule its slot's respawn with backoff."""
        self.retire(worker, reason, now + HANG_KILL_GRACE)
        if worker.replaces is not None:
            self.abandon_replacement(worker, now)
        elif self.has_successor(worker):
            self.restarts[reason] += 1
        else:
            self.schedule_respawn(worker.index, reason, now)

    def retire(self, worker: Worker, reason: str, kill_at: float) -> None:
        """Ask a worker to drain and exit (SIGTERM); SIGKILL follows at ``kill_at``."""
        if worker.retiring is None:
            worker.retiring = reason
            worker.kill_at = kill_at
            worker.child.send(signal.SIGTERM)

    def retire_all(self, reason: str, kill_at: float) -> None:
        for worker in self.workers:
            self.retire(worker, reason, kill_at)

    def kill_all(self) -> None:
        for worker in self.workers:
            worker.child.send(signal.SIGKILL)

    def schedule_respawn(self, index: int, reason: str, now: float) -> None:
        self.restarts[reason] += 1
        slot = self.slots.get(index)
        if slot is None:  # scaled away meanwhile
            return
        delay = slot.policy.on_crash(now)
        slot.restarts += 1
        slot.respawn_at = now + delay
        if delay:
            log.warning("worker %d restarts in %.1fs (crash #%d)", index, delay, slot.policy.crashes)

    def on_exit(self, worker: Worker, status: int, stopping: bool) -> None:
        """A worker process ended: decide what its slot needs now."""
        worker.child.reaped(status)
        self.drain_pipe(worker)
        self.retired.add(worker.heartbeat)
        self.workers.remove(worker)
        # A retiring worker (recycled, hung) that ends by SIGKILL got it from us.
        how = describe_exit(status, oom_hint=worker.retiring is None)
        slot = self.slots.get(worker.index)
        if slot is not None and not self.has_successor(worker):
            slot.last_exit = how
        now = self.clock()
        if worker.retiring is not None:
            log.info("%s %s (%s)", worker.label(), how, worker.retiring)
        elif stopping:
            log.info("%s %s", worker.label(), how)
        elif os.WIFEXITED(status) and os.WEXITSTATUS(status) == protocol.EXIT_BOOT_ERROR:
            self.on_boot_error(worker, now)
        elif worker.replaces is not None:
            log.error("replacement %s %s", worker.label(), how)
            self.abandon_replacement(worker, now)
        elif self.has_successor(worker):
            log.error("%s %s; its replacement takes over", worker.label(), how)
            self.restarts["crash"] += 1
        else:
            log.error("%s %s: restarting it", worker.label(), how)
            self.schedule_respawn(worker.index, "crash", now)

    def on_boot_error(self, worker: Worker, now: float) -> None:
        error = worker.boot_error or "the worker exited during boot"
        if not self.ever_ready:
            self.fatal = error  # restarting cannot fix a broken application
        elif worker.replaces is not None:
            log.error("replacement %s failed to boot: %s", worker.label(), error)
            self.abandon_replacement(worker, now)
        else:
            log.error("%s failed to boot: %s", worker.label(), error)
            self.schedule_respawn(worker.index, "boot-error", now)

    # -- recycling: the replacement is ready before the old worker drains -----------------

    def recycle(self, worker: Worker, reason: str) -> None:
        """Queue a healthy worker for replacement; one replacement runs at a time."""
        if worker.recycle is not None or not worker.active or worker.replaces is not None:
            return
        slot = self.slots.get(worker.index)
        if slot is not None and self.clock() < slot.recycle_after:
            return
        worker.recycle = reason
        self.recycles.append(worker)
        if reason == "request-timeout":
            oldest = worker.heartbeat.get("oldest_request") or {}
            log.warning(
                "%s: %s %s running for %.1fs exceeds --request-timeout: replacing the worker",
                worker.label(),
                oldest.get("method", "?"),
                oldest.get("path", "?"),
                worker.heartbeat.get("oldest_request_s", 0.0),
            )

    def advance_recycle(self, now: float) -> None:
        """Start the next replacement, or retire the old worker once its replacement is ready."""
        pending = [w for w in self.workers if w.replaces is not None and w.active]
        if pending:
            new = pending[0]
            old = new.replaces
            assert old is not None
            if not old.active:  # the old worker died meanwhile: the new one simply takes over
                new.replaces = None
            elif self.can_take_over(new, old):
                reason = old.recycle or "recycle"
                log.info("%s replaced by pid %d (%s)", old.label(), new.pid, reason)
                new.replaces = None
                self.restarts[reason] += 1
                if old.index in self.slots:
                    self.slots[old.index].restarts += 1
                self.retire(old, reason, now + self.drain_deadline())
            return
        while self.recycles:
            old = self.recycles.popleft()
            if old.active:
                log.info("recycling %s: %s", old.label(), old.recycle)
                self.spawn(old.index, replaces=old)
                return

    def can_take_over(self, new: Worker, old: Worker) -> bool:
        """The replacement serves and its checks ran: no moment without a ready worker.

        A replacement whose readiness fails takes over only from a worker that fails too,
        so a recycle never makes readiness worse.
        """
        if new.state != "ready" or not health.checks_reported(new.heartbeat, "readiness"):
            return False
        if health.readiness_failure(new.heartbeat) is None:
            return True
        return health.readiness_failure(old.heartbeat) is not None

    def drain_deadline(self) -> float:
        """How long a retiring worker may drain; its own deadline comes first."""
        return self.options.graceful_timeout + 1.0

    def abandon_replacement(self, new: Worker, now: float) -> None:
        """A replacement failed: keep the old worker serving and try again later."""
        old = new.replaces
        new.replaces = None
        if old is None:
            return
        slot = self.slots.get(old.index)
        delay = max(1.0, slot.policy.on_crash(now) if slot is not None else 0.0)
        if slot is not None:
            slot.recycle_after = now + delay
        log.error("keeping %s; its replacement is retried in %.1fs", old.label(), delay)
        old.recycle = None

    def has_successor(self, worker: Worker) -> bool:
        return any(w.replaces is worker for w in self.workers)

    def reload(self, reason: str = "reload") -> None:
        """SIGHUP: replace every worker, one at a time, with fresh code."""
        for worker in list(self.workers):
            if worker.active:
                self.recycle(worker, reason)

    def reload_changed(self, path: str) -> None:
        """--autoreload: worker 0 saw a code change. Every change is one new attempt, even
        right after a failed one, so the edit that fixes a broken one reloads at once;
        until then the old workers keep serving."""
        log.info("%s changed: reloading the workers", path)
        for slot in self.slots.values():
            slot.recycle_after = 0.0
        self.reload("code-change")

    @property
    def reloading(self) -> bool:
        return any(w.recycle == "reload" and w.active for w in self.workers)

    # -- scaling ------------------------------------------------------------------------------

    def scale_up(self) -> None:
        index = max(self.slots, default=-1) + 1
        self.slots[index] = Slot()
        log.info("scaling up to %d worker(s)", len(self.slots))

    def scale_down(self) -> None:
        if len(self.slots) <= 1:
            log.warning("not scaling down below one worker")
            return
        index = max(self.slots)
        del self.slots[index]
        log.info("scaling down to %d worker(s)", len(self.slots))
        for worker in self.workers:
            if worker.index == index:
                self.retire(worker, "scale-down", self.clock() + self.drain_deadline())

    # -- reporting ---------------------------------------------------------------------------

    def describe(self, now: float) -> list[dict[str, Any]]:
        return [self.describe_one(w, now) for w in self.workers]

    def describe_one(self, worker: Worker, now: float) -> dict[str, Any]:
        slot = self.slots.get(worker.index) or Slot()
        age = now - (worker.last_hb_at if worker.last_hb_at is not None else worker.spawned_at)
        return {
            "worker": worker.index,
            "pid": worker.pid,
            "state": "draining" if worker.retiring else worker.state,
            "hb_age_s": round(age, 3),
            "restarts": slot.restarts,
            "last_exit": slot.last_exit,
            "retiring": worker.retiring,
            "recycle": worker.recycle,
            "heartbeat": worker.heartbeat,
        }
