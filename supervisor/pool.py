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
from collections import Counter
from collections.abc import Callable

from supervisor import counters, health, protocol
from supervisor.oom import OomWatch
from supervisor.options import Options
from supervisor.process import ChildProcess, Pipe, Reaper, describe_exit, spawn
from supervisor.protocol import (
    BootError,
    Heartbeat,
    Phase,
    ReloadRequest,
    RestartReason,
    WorkerReport,
    WorkerState,
)
from supervisor.recycling import Recycler
from supervisor.template import Templates
from supervisor.workers import Slot, Stopping, WorkerHandle, limits, recycle_reason

log = logging.getLogger("hurricane.supervisor")

HANG_KILL_GRACE = 2.0  # a hung worker rarely handles SIGTERM; SIGKILL follows this soon


class WorkerPool:
    def __init__(
        self,
        options: Options,
        argv: list[str],
        selector: selectors.BaseSelector,
        reaper: Reaper,
        clock: Callable[[], float],
    ) -> None:
        self.options = options
        self.argv = argv
        self.selector = selector
        self.reaper = reaper
        self.clock = clock
        self.rng = random.Random()
        self.app_fd = -1  # set once the supervisor has the app socket
        self.workers: list[WorkerHandle] = []
        self.slots = {index: Slot() for index in range(options.workers)}
        self.recycler = Recycler()
        self.oom = OomWatch()
        self.restarts: Counter[str] = Counter()
        self.retired = counters.Totals()  # dead workers' counts, so the sums never go backwards
        self.ever_ready = False
        self.fatal: str | None = None  # the application cannot boot: the server must stop
        self.last_healthy_at: float | None = None
        self.phase = Phase.STARTING  # the server's, as the supervisor sets it
        self.templates: Templates | None = None  # where workers come from, unless --no-preload

    # -- spawning and hearing from workers ------------------------------------------

    def spawn(self, index: int) -> WorkerHandle | None:
        """Start a worker for slot ``index``: forked by the template, or a fresh interpreter with
        --no-preload. None while the template is not ready (the slot waits)."""
        if self.templates is not None and not self.templates.ready:
            return None
        request_limit, age_limit = limits(self.options, self.rng)
        if self.templates is not None:
            child = self.fork(index, request_limit)
            if child is None:
                return None
        else:
            fds = {"app": self.app_fd} if self.app_fd >= 0 else {}  # a consumer worker has no app socket
            child = spawn("worker", self.argv, self.options, fds, Pipe.FROM_CHILD, index, request_limit)
        worker = WorkerHandle(index, child, self.clock(), request_limit=request_limit, age_limit=age_limit)
        assert child.pipe is not None
        self.selector.register(child.pipe, selectors.EVENT_READ, lambda: self.on_pipe(worker))
        self.reaper.watch(worker.pid, lambda status: self.on_exit(worker, status))
        self.workers.append(worker)
        if index in self.slots:
            self.slots[index].respawn_at = None
        log.info("%s started", worker.label())
        return worker

    def fork(self, index: int, request_limit: int | None) -> ChildProcess | None:
        assert self.templates is not None
        read_end, write_end = os.pipe()
        try:
            pid = self.templates.fork(index, request_limit, write_end)
        finally:
            os.close(write_end)  # the worker has its own copy now
        if pid is None:
            os.close(read_end)
            return None
        return ChildProcess("worker", pid, read_end)

    def on_pipe(self, worker: WorkerHandle) -> None:
        for msg in worker.child.messages():
            self.on_message(worker, msg)
        if worker.child.pipe_closed:
            self.close_pipe(worker)

    def close_pipe(self, worker: WorkerHandle) -> None:
        if worker.child.pipe is not None:
            self.selector.unregister(worker.child.pipe)
            worker.child.close_pipe()

    def on_message(self, worker: WorkerHandle, msg: protocol.ChildMessage) -> None:
        if isinstance(msg, BootError):
            worker.boot_error = msg.error
        elif isinstance(msg, ReloadRequest):
            self.reload_changed(msg.path)
        elif isinstance(msg, Heartbeat):
            self.on_heartbeat(worker, msg)

    def on_heartbeat(self, worker: WorkerHandle, heartbeat: Heartbeat) -> None:
        now = self.clock()
        was = worker.state
        worker.heartbeat = heartbeat
        worker.last_hb_at = now
        if heartbeat.state is WorkerState.READY and was is WorkerState.BOOTING:
            log.info("%s ready in %.2fs", worker.label(), now - worker.spawned_at)
            self.ever_ready = True
        if heartbeat.state is WorkerState.READY and worker.active:
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
        if self.templates is not None:
            self.templates.tick(now)

    def cannot_start(self) -> str | None:
        """Why the application cannot boot at all (the server must stop), if it cannot."""
        return self.fatal or (self.templates.fatal if self.templates is not None else None)

    def watch(self, worker: WorkerHandle, now: float) -> None:
        """Escalate stops that take too long; catch hung and stuck-booting workers."""
        if worker.stopping is not None:
            kill_at = worker.stopping.kill_at
            if kill_at is not None and now >= kill_at and worker.child.alive:
                log.warning("%s did not stop in time: killing it", worker.label())
                worker.child.send(signal.SIGKILL)
                worker.stopping.kill_at = None
            return
        opts = self.options
        if worker.state is WorkerState.BOOTING:
            if now - worker.spawned_at > opts.startup_timeout:
                log.error(
                    "%s still booting after %.1fs: replacing it", worker.label(), now - worker.spawned_at
                )
                self.replace(worker, RestartReason.STARTUP_TIMEOUT, now)
        elif worker.last_hb_at is not None:
            silent = now - worker.last_hb_at
            if silent > opts.heartbeat_timeout and not worker.heartbeat.debugger:
                log.error(
                    "%s sent no heartbeat for %.1fs: hung; dumping its stacks and replacing it",
                    worker.label(),
                    silent,
                )
                worker.child.send(signal.SIGUSR1)  # faulthandler dumps every thread's stack
                worker.child.send(signal.SIGCONT)  # so a stopped worker can dump and die
                self.replace(worker, RestartReason.HANG, now)

    def track_health(self, now: float) -> None:
        limit = health.stale_after(self.options)
        for worker in self.workers:
            fresh = worker.last_hb_at is not None and now - worker.last_hb_at <= limit
            if worker.state is WorkerState.READY and worker.active and fresh:
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

    def replace(self, worker: WorkerHandle, reason: RestartReason, now: float) -> None:
        """Stop a failed worker quickly and schedule its slot's respawn with backoff."""
        self.retire(worker, reason, now + HANG_KILL_GRACE)
        if self.recycler.is_replacement(worker):
            self.abandon_replacement(now)
        elif self.recycler.successor(worker) is not None:
            self.restarts[reason] += 1
        else:
            self.schedule_respawn(worker.index, reason, now)

    def retire(self, worker: WorkerHandle, reason: RestartReason, kill_at: float) -> None:
        """Ask a worker to drain and exit (SIGTERM); SIGKILL follows at ``kill_at``."""
        if worker.stopping is None:
            worker.stopping = Stopping(reason, kill_at)
            worker.child.send(signal.SIGTERM)

    def retire_all(self, reason: RestartReason, kill_at: float) -> None:
        """The server stops: every worker drains, and the templates let go of the app socket."""
        if self.templates is not None:
            self.templates.stop()
        for worker in self.workers:
            self.retire(worker, reason, kill_at)

    def kill_all(self) -> None:
        if self.templates is not None:
            self.templates.stop()
        for worker in self.workers:
            worker.child.send(signal.SIGKILL)

    def schedule_respawn(self, index: int, reason: RestartReason, now: float) -> None:
        self.restarts[reason] += 1
        slot = self.slots.get(index)
        if slot is None:  # scaled away meanwhile
            return
        delay = slot.policy.on_crash(now)
        slot.restarts += 1
        slot.respawn_at = now + delay
        if delay:
            log.warning("worker %d restarts in %.1fs (crash #%d)", index, delay, slot.policy.crashes)

    def on_exit(self, worker: WorkerHandle, status: int) -> None:
        """A worker process ended: decide what its slot needs now."""
        worker.child.reaped(status)
        for msg in worker.child.messages(everything=True):  # its boot error, say
            self.on_message(worker, msg)
        self.close_pipe(worker)
        self.retired.add(worker.heartbeat.counters)
        self.workers.remove(worker)
        successor = self.recycler.successor(worker)
        replacement = self.recycler.is_replacement(worker)
        self.recycler.forget(worker)
        # A stopping worker (recycled, hung) that ends by SIGKILL got it from us.
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        why = "" if worker.stopping is not None or not killed else self.oom.explain_kill()
        how = describe_exit(status, why)
        slot = self.slots.get(worker.index)
        if slot is not None and successor is None:
            slot.last_exit = how
        now = self.clock()
        clean = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        if worker.stopping is not None:
            log.info("%s %s (%s)", worker.label(), how, worker.stopping.reason)
        elif self.phase is Phase.STOPPING:
            log.info("%s %s", worker.label(), how)
        elif self.phase is Phase.DRAINING and clean:
            # It got the stop signal too (systemd's KillMode=control-group, a signal to
            # every pid): it drained as asked, and the shutdown goes on without it.
            log.info("%s %s during the shutdown: not replaced", worker.label(), how)
            if slot is not None:
                slot.respawn_at = None
        elif os.WIFEXITED(status) and os.WEXITSTATUS(status) == protocol.EXIT_BOOT_ERROR:
            self.on_boot_error(worker, replacement, now)
        elif replacement:
            log.error("replacement %s %s", worker.label(), how)
            self.abandon_replacement(now)
        elif successor is not None:
            log.error("%s %s; its replacement takes over", worker.label(), how)
            self.restarts[RestartReason.CRASH] += 1
        else:
            log.error("%s %s: restarting it", worker.label(), how)
            self.schedule_respawn(worker.index, RestartReason.CRASH, now)

    def on_boot_error(self, worker: WorkerHandle, replacement: bool, now: float) -> None:
        error = worker.boot_error or "the worker exited during boot"
        if not self.ever_ready:
            self.fatal = error  # restarting cannot fix a broken application
        elif replacement:
            log.error("replacement %s failed to boot: %s", worker.label(), error)
            self.abandon_replacement(now)
        else:
            log.error("%s failed to boot: %s", worker.label(), error)
            self.schedule_respawn(worker.index, RestartReason.BOOT_ERROR, now)

    # -- recycling: the replacement is ready before the old worker drains -----------------

    def recycle(self, worker: WorkerHandle, reason: RestartReason) -> None:
        """Queue a healthy worker for replacement; one replacement runs at a time."""
        if not self.recycler.request(worker, reason, self.clock()):
            return
        oldest = worker.heartbeat.oldest_request
        consumer = worker.heartbeat.consumer
        if reason is RestartReason.REQUEST_TIMEOUT and oldest is not None:
            log.warning(
                "%s: %s %s running for %.1fs exceeds --request-timeout: replacing the worker",
                worker.label(),
                oldest.method,
                oldest.path,
                oldest.age_s,
            )
        elif reason is RestartReason.HANDLER_TIMEOUT and consumer is not None:
            log.warning(
                "%s: a message handler running for %.1fs exceeds --handler-timeout: replacing the worker",
                worker.label(),
                consumer.oldest_s,
            )

    def advance_recycle(self, now: float) -> None:
        """Start the next replacement, or retire the old worker once its replacement is ready."""
        current = self.recycler.current
        if current is not None:
            if self.can_take_over(current.new, current.old):
                old, reason = current.old, current.reason
                log.info("%s replaced by pid %d (%s)", old.label(), current.new.pid, reason)
                self.recycler.current = None
                self.restarts[reason] += 1
                if old.index in self.slots:
                    self.slots[old.index].restarts += 1
                self.retire(old, reason, now + self.drain_deadline())
            return
        if self.templates is not None and not self.templates.ready:
            return  # replacements come from the template: wait for it
        due = self.recycler.next_due()
        if due is not None:
            old, reason = due
            log.info("recycling %s: %s", old.label(), reason)
            new = self.spawn(old.index)
            if new is None:
                self.recycler.request(old, reason, now)  # the next tick tries again
            else:
                self.recycler.start(old, new, reason)

    def can_take_over(self, new: WorkerHandle, old: WorkerHandle) -> bool:
        """The replacement serves and its checks ran: no moment without a ready worker.

        A replacement whose readiness fails takes over only from a worker that fails too,
        so a recycle never makes readiness worse.
        """
        if new.state is not WorkerState.READY or not health.checks_reported(new.heartbeat, "readiness"):
            return False
        if health.readiness_failure(new.heartbeat) is None:
            return True
        return health.readiness_failure(old.heartbeat) is not None

    def drain_deadline(self) -> float:
        """How long a retiring worker may drain; its own deadline comes first."""
        return self.options.graceful_timeout + 1.0

    def abandon_replacement(self, now: float) -> None:
        """A replacement failed: keep the old worker serving and try again later."""
        current = self.recycler.current
        if current is None:
            return
        slot = self.slots.get(current.old.index)
        if current.reason is RestartReason.CODE_CHANGE:
            # The edit that broke it is not retried: the next code change is the next attempt.
            self.recycler.abandon(now, 0.0)
            log.error("keeping %s; the next code change tries again", current.old.label())
            return
        delay = max(1.0, slot.policy.on_crash(now) if slot is not None else 0.0)
        old = self.recycler.abandon(now, delay)
        if old is not None:
            log.error("keeping %s; its replacement is retried in %.1fs", old.label(), delay)

    def reload(self, reason: RestartReason = RestartReason.RELOAD) -> None:
        """SIGHUP: replace every worker, one at a time, with fresh code: a template that loaded
        it first, when workers come from one."""
        if self.templates is None:
            self.recycle_all(reason)
        else:
            self.templates.replace(then=lambda: self.recycle_all(reason))

    def recycle_all(self, reason: RestartReason) -> None:
        now = self.clock()
        for worker in list(self.workers):
            self.recycler.request(worker, reason, now)

    def reload_changed(self, path: str) -> None:
        """--autoreload: worker 0 saw a code change. Every change is one new attempt, even
        right after a failed one, so the edit that fixes a broken one reloads at once;
        until then the old workers keep serving."""
        log.info("%s changed: reloading the workers", path)
        self.recycler.retry_now()
        self.reload(RestartReason.CODE_CHANGE)

    @property
    def reloading(self) -> bool:
        return self.recycler.reloading or (self.templates is not None and self.templates.reloading)

    def announce_shutdown(self) -> None:
        """The shutdown began: workers keep serving requests but refuse new WebSockets (SIGUSR2)."""
        for worker in self.workers:
            worker.child.send(signal.SIGUSR2)

    def dump_stacks(self) -> None:
        """SIGUSR1 to the supervisor: every worker writes its threads' stacks to stderr."""
        log.info("asking %d worker(s) for their stacks", len(self.workers))
        for worker in self.workers:
            worker.child.send(signal.SIGUSR1)  # faulthandler, registered by each worker

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
                self.retire(worker, RestartReason.SCALE_DOWN, self.clock() + self.drain_deadline())

    # -- reporting ---------------------------------------------------------------------------

    def describe(self, now: float) -> tuple[WorkerReport, ...]:
        return tuple(self.describe_one(w, now) for w in self.workers)

    def describe_one(self, worker: WorkerHandle, now: float) -> WorkerReport:
        slot = self.slots.get(worker.index) or Slot()
        age = now - (worker.last_hb_at if worker.last_hb_at is not None else worker.spawned_at)
        return WorkerReport(
            worker=worker.index,
            pid=worker.pid,
            state=worker.state,
            hb_age_s=round(age, 3),
            restarts=slot.restarts,
            last_exit=slot.last_exit,
            retiring=None if worker.stopping is None else worker.stopping.reason,
            recycle=self.recycler.reason(worker),
            heartbeat=worker.heartbeat,
        )
