"""The supervisor: owns the sockets and children, reads heartbeats, restarts, relays health.

One thread, one loop. Signal handlers only wake the loop (``set_wakeup_fd``);
everything else happens in ``step()``, which a test can drive directly.
"""

from __future__ import annotations

import logging
import os
import random
import selectors
import signal
import socket
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from supervisor import health, protocol
from supervisor.options import Options
from supervisor.process import ChildProcess, describe_exit, spawn
from supervisor.sdnotify import Notifier, status_text
from supervisor.sockets import BindError, bind, bound_port, inherited
from supervisor.workers import Slot, Worker, limits, recycle_reason

log = logging.getLogger("hurricane.supervisor")

HANG_KILL_GRACE = 2.0  # a hung worker rarely handles SIGTERM; SIGKILL follows this soon
PROBE_STOP_GRACE = 2.0
TICK = 0.25


class Supervisor:
    def __init__(
        self,
        options: Options,
        worker_argv: list[str],
        probe_argv: list[str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options
        self.worker_argv = worker_argv
        self.probe_argv = probe_argv
        self.clock = clock
        self.rng = random.Random()
        self.started_at = clock()
        self.selector = selectors.DefaultSelector()
        self.workers: list[Worker] = []
        self.slots = {index: Slot() for index in range(options.workers)}
        self.recycles: deque[Worker] = deque()
        self.restarts: Counter[str] = Counter()
        self.phase = "starting"
        self.phase_deadline: float | None = None
        self.exit_code: int | None = None
        self.startup_done = False
        self.ever_ready = False
        self.last_healthy_at: float | None = None
        self.probe: ChildProcess | None = None
        self.probe_writer: protocol.SnapshotWriter | None = None
        self.probe_respawn_at: float | None = None
        self.app_socket: socket.socket | None = None
        self.probe_socket: socket.socket | None = None
        self.seq = 0
        self._wakeup_r: socket.socket | None = None
        self.notifier = Notifier.from_environ(os.environ, os.getpid())

    # -- start and stop ---------------------------------------------------------

    def run(self) -> int:
        """Bind, start the children, loop until stopped; return the exit code."""
        try:
            self.bind()
        except BindError as exc:
            log.error("%s", exc)
            return protocol.EXIT_USAGE
        self.install_signals()
        if self.probe_socket is not None:
            self.spawn_probe()
        self.respawn_due(self.clock())
        while self.exit_code is None:
            self.step()
        self.cleanup()
        return self.exit_code

    def bind(self) -> None:
        opts = self.options
        passed = inherited(os.environ, os.getpid())  # systemd's socket activation, in order
        self.app_socket = passed.pop(0) if passed else bind(opts.host, opts.port, "--port")
        app_port = bound_port(self.app_socket)
        probe_note = "no probes"
        if not opts.no_probe:
            try:
                self.probe_socket = (
                    passed.pop(0) if passed else bind(opts.host, opts.effective_probe_port, "--probe-port")
                )
            except BindError:
                self.app_socket.close()
                raise
            probe_note = f"probes on {opts.host}:{bound_port(self.probe_socket)}"
        log.info(
            "listening on %s:%d, %s, %d worker(s), pid %d",
            opts.host,
            app_port,
            probe_note,
            opts.workers,
            os.getpid(),
        )

    def install_signals(self) -> None:
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)
        self._wakeup_r = reader
        self._wakeup_w = writer
        signal.set_wakeup_fd(writer.fileno())
        for sig in self.signal_actions():
            # The handler does nothing: the wakeup fd carries the signal to the loop.
            signal.signal(sig, _record_only)
        self.selector.register(reader, selectors.EVENT_READ, self.on_signals)

    def signal_actions(self) -> dict[int, Callable[[], None]]:
        return {
            signal.SIGTERM: self.begin_shutdown,
            signal.SIGINT: self.begin_shutdown,
            signal.SIGQUIT: self.stop_now,
            signal.SIGHUP: self.reload,
            signal.SIGTTIN: self.scale_up,
            signal.SIGTTOU: self.scale_down,
            signal.SIGCHLD: lambda: None,  # reaping happens on every step
        }

    def on_signals(self) -> None:
        assert self._wakeup_r is not None
        try:
            data = self._wakeup_r.recv(512)
        except BlockingIOError:
            return
        actions = self.signal_actions()
        for signum in data:
            if signum in actions:
                if signum != signal.SIGCHLD:
                    log.info("received %s", signal.Signals(signum).name)
                actions[signum]()

    def begin_shutdown(self) -> None:
        """SIGTERM/SIGINT: fail readiness now, keep serving for the delay, then drain."""
        self.notifier.stopping()
        if self.phase in ("draining", "stopping"):
            log.warning("second stop signal: stopping at once")
            self.stop_now()
            return
        self.phase = "draining"
        self.phase_deadline = self.clock() + (self.options.shutdown_delay or 0.0)
        if self.options.shutdown_delay:
            log.info("readiness is failing; serving for %.1fs more", self.options.shutdown_delay)

    def stop_workers(self) -> None:
        now = self.clock()
        self.phase = "stopping"
        self.phase_deadline = now + self.options.graceful_timeout
        log.info("stopping workers (graceful timeout %.1fs)", self.options.graceful_timeout)
        # Our copy of the listening socket goes first: once the workers close theirs,
        # new connections are refused instead of waiting in a backlog nobody accepts.
        self.close_app_socket()
        for worker in self.workers:
            self.retire(worker, "shutdown", now + self.options.graceful_timeout)

    def stop_now(self, code: int = 1) -> None:
        for worker in self.workers:
            worker.child.send(signal.SIGKILL)
        self.finish(code)

    def finish(self, code: int) -> None:
        self.notifier.stopping()
        if self.probe is not None:
            self.probe.send(signal.SIGTERM)
            self.wait_for(self.probe, PROBE_STOP_GRACE)
        self.exit_code = code

    def wait_for(self, child: ChildProcess, timeout: float) -> None:
        deadline = self.clock() + timeout
        while child.alive and self.clock() < deadline:
            self.reap()
            time.sleep(0.01)
        if child.alive:
            child.send(signal.SIGKILL)

    def cleanup(self) -> None:
        for worker in self.workers:
            worker.child.send(signal.SIGKILL)
        deadline = self.clock() + 2.0
        while any(w.child.alive for w in self.workers) and self.clock() < deadline:
            self.reap()
            time.sleep(0.01)
        self.close_app_socket()
        if self.probe_socket is not None:
            self.probe_socket.close()
        signal.set_wakeup_fd(-1)

    def close_app_socket(self) -> None:
        if self.app_socket is not None:
            self.app_socket.close()
            self.app_socket = None

    # -- the loop ---------------------------------------------------------------

    def step(self, timeout: float = TICK) -> None:
        for key, _ in self.selector.select(timeout):
            key.data()
        self.reap()
        if self.exit_code is None:
            self.tick(self.clock())
        if self.exit_code is None:
            self.publish()

    def reap(self) -> None:
        """Collect every exited child, ours or orphaned (we may be PID 1)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.on_exit(pid, status)

    def on_exit(self, pid: int, status: int) -> None:
        if self.probe is not None and pid == self.probe.pid:
            self.on_probe_exit(status)
            return
        for worker in self.workers:
            if worker.pid == pid:
                self.on_worker_exit(worker, status)
                return
        log.debug("reaped pid %d (%s)", pid, describe_exit(status))

    def tick(self, now: float) -> None:
        for worker in list(self.workers):
            self.watch(worker, now)
        self.track_health(now)
        if self.phase == "starting" and self.startup_done:
            self.phase = "running"
        if self.phase in ("starting", "running"):
            self.respawn_due(now)
            self.advance_recycle(now)
        elif self.phase == "draining" and self.phase_deadline is not None:
            if now >= self.phase_deadline:
                self.stop_workers()
        elif self.phase == "stopping":
            if not self.workers:
                log.info("all workers stopped")
                self.finish(0)
            elif self.phase_deadline is not None and now >= self.phase_deadline:
                log.warning("graceful timeout reached: killing %d worker(s)", len(self.workers))
                self.stop_now(1)
        if self.probe is None and self.probe_respawn_at is not None and now >= self.probe_respawn_at:
            self.spawn_probe()

    # -- workers ----------------------------------------------------------------

    def spawn_worker(self, index: int, replaces: Worker | None = None) -> Worker:
        assert self.app_socket is not None
        fd = self.app_socket.fileno()
        spec = {"options": self.options.to_json(), "index": index, "app_fd": fd}
        child = spawn("worker", self.worker_argv, spec, [fd], with_pipe="from_child")
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
            self.selector.unregister(worker.child.pipe)
            worker.child.close_pipe()
            return
        for msg in worker.reader.feed(data):
            self.on_message(worker, msg)

    def on_message(self, worker: Worker, msg: dict[str, Any]) -> None:
        if msg.get("type") == "boot_error":
            worker.boot_error = str(msg.get("error", "unknown error"))
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

    def replace(self, worker: Worker, reason: str, now: float) -> None:
        """Stop a failed worker quickly and schedule its slot's respawn with backoff."""
        self.retire(worker, reason, now + HANG_KILL_GRACE)
        if worker.replaces is not None:
            self.abandon_replacement(worker, now)
        elif not self.has_successor(worker):
            self.schedule_respawn(worker.index, reason, now)
        else:
            self.restarts[reason] += 1

    def retire(self, worker: Worker, reason: str, kill_at: float) -> None:
        if worker.retiring is None:
            worker.retiring = reason
            worker.kill_at = kill_at
            worker.child.send(signal.SIGTERM)

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

    def on_worker_exit(self, worker: Worker, status: int) -> None:
        worker.child.reaped(status)
        if worker.child.pipe is not None:
            self.drain_pipe(worker)
        self.workers.remove(worker)
        how = describe_exit(status)
        slot = self.slots.get(worker.index)
        if slot is not None and not self.has_successor(worker):
            slot.last_exit = how
        now = self.clock()
        if worker.retiring is not None:
            log.info("%s %s (%s)", worker.label(), how, worker.retiring)
        elif self.phase in ("draining", "stopping"):
            log.info("%s %s", worker.label(), how)
        elif os.WIFEXITED(status) and os.WEXITSTATUS(status) == protocol.EXIT_BOOT_ERROR:
            self.on_boot_error(worker, now)
        elif worker.replaces is not None:
            log.error("replacement %s %s", worker.label(), how)
            self.abandon_replacement(worker, now)
        else:
            log.error("%s %s: restarting it", worker.label(), how)
            if not self.has_successor(worker):
                self.schedule_respawn(worker.index, "crash", now)
            else:
                self.restarts["crash"] += 1

    def drain_pipe(self, worker: Worker) -> None:
        """Read what a dead worker left in its pipe (its boot error, say), then close it."""
        pipe = worker.child.pipe
        assert pipe is not None
        while True:
            try:
                data = os.read(pipe, 65536)
            except BlockingIOError:
                break
            if not data:
                break
            for msg in worker.reader.feed(data):
                self.on_message(worker, msg)
        self.selector.unregister(pipe)
        worker.child.close_pipe()

    def on_boot_error(self, worker: Worker, now: float) -> None:
        error = worker.boot_error or "the worker exited during boot"
        if not self.ever_ready:
            log.error("the application cannot start: %s", error)
            self.stop_now(1)
        elif worker.replaces is not None:
            log.error("replacement %s failed to boot: %s", worker.label(), error)
            self.abandon_replacement(worker, now)
        else:
            log.error("%s failed to boot: %s", worker.label(), error)
            self.schedule_respawn(worker.index, "boot-error", now)

    def respawn_due(self, now: float) -> None:
        active = {w.index for w in self.workers if w.active}
        for index, slot in self.slots.items():
            if index in active:
                slot.respawn_at = None
            elif slot.respawn_at is not None and now >= slot.respawn_at:
                self.spawn_worker(index)

    # -- recycling: the replacement is ready before the old worker drains -----------

    def recycle(self, worker: Worker, reason: str) -> None:
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
        """One recycle at a time: start a replacement, retire the old one once it is ready."""
        pending = [w for w in self.workers if w.replaces is not None and w.active]
        if pending:
            new = pending[0]
            old = new.replaces
            assert old is not None
            if not old.active:  # the old worker died meanwhile: the new one simply takes over
                new.replaces = None
            elif new.state == "ready":
                reason = old.recycle or "recycle"
                log.info("%s replaced by pid %d (%s)", old.label(), new.pid, reason)
                new.replaces = None
                self.restarts[reason] += 1
                if old.index in self.slots:
                    self.slots[old.index].restarts += 1
                self.retire(old, reason, now + self.graceful_kill_after())
            return
        while self.recycles:
            old = self.recycles.popleft()
            if old.active:
                log.info("recycling %s: %s", old.label(), old.recycle)
                self.spawn_worker(old.index, replaces=old)
                return

    def graceful_kill_after(self) -> float:
        return self.options.graceful_timeout + 1.0  # the worker's own drain deadline comes first

    def abandon_replacement(self, new: Worker, now: float) -> None:
        """A replacement failed: keep the old worker serving and try again later."""
        old = new.replaces
        new.replaces = None
        if old is None:
            return
        slot = self.slots.get(old.index)
        delay = slot.policy.on_crash(now) if slot is not None else 0.0
        delay = max(delay, 1.0)
        if slot is not None:
            slot.recycle_after = now + delay
        log.error("keeping %s; its replacement is retried in %.1fs", old.label(), delay)
        old.recycle = None

    def has_successor(self, worker: Worker) -> bool:
        return any(w.replaces is worker for w in self.workers)

    def reload(self) -> None:
        """SIGHUP: replace every worker, one at a time, with fresh code."""
        self.notifier.reloading()
        for worker in list(self.workers):
            if worker.active:
                self.recycle(worker, "reload")

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
                self.retire(worker, "scale-down", self.clock() + self.graceful_kill_after())

    # -- health -----------------------------------------------------------------

    def track_health(self, now: float) -> None:
        limit = health.stale_after(self.options)
        for worker in self.workers:
            fresh = worker.last_hb_at is not None and now - worker.last_hb_at <= limit
            if worker.state == "ready" and worker.active and fresh:
                self.last_healthy_at = now
                slot = self.slots.get(worker.index)
                if slot is not None:
                    slot.policy.on_healthy(now)

    def snapshot(self) -> dict[str, Any]:
        now = self.clock()
        since = now - (self.last_healthy_at if self.last_healthy_at is not None else self.started_at)
        snap: dict[str, Any] = {
            "seq": self.seq,
            "phase": self.phase,
            "prestart": "done",
            "startup_done": self.startup_done,
            "uptime_s": round(now - self.started_at, 3),
            "since_healthy_s": round(since, 3),
            "restarts": dict(self.restarts),
            "workers": [self.describe(w, now) for w in self.workers],
        }
        if not self.startup_done and health.startup(snap, 0.0, self.options).ok:
            self.startup_done = snap["startup_done"] = True
            log.info("started in %.2fs", now - self.started_at)
            self.notifier.ready(status_text(snap, len(self.slots)))
        return snap

    def describe(self, worker: Worker, now: float) -> dict[str, Any]:
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

    def publish(self) -> None:
        self.seq += 1
        snap = self.snapshot()
        self.notify_systemd(snap)
        if self.probe_writer is None:
            return
        try:
            self.probe_writer.send(protocol.encode(snap, limit=1 << 24))
        except BrokenPipeError:
            pass  # the probe died; on_probe_exit restarts it

    def notify_systemd(self, snap: dict[str, Any]) -> None:
        """Worker counts for ``systemctl status``; the watchdog is fed only while /alive would pass."""
        if self.notifier.reload_pending and not any(w.active and w.recycle == "reload" for w in self.workers):
            self.notifier.ready(status_text(snap, len(self.slots)))  # the reload is done
        self.notifier.status(status_text(snap, len(self.slots)))
        self.notifier.watchdog(self.clock(), health.alive(snap, 0.0, self.options).ok)

    # -- the probe --------------------------------------------------------------

    def spawn_probe(self) -> None:
        assert self.probe_socket is not None
        fd = self.probe_socket.fileno()
        spec = {"options": self.options.to_json(), "probe_fd": fd}
        self.probe = spawn("probe", self.probe_argv, spec, [fd], with_pipe="to_child")
        assert self.probe.pipe is not None
        self.probe_writer = protocol.SnapshotWriter(self.probe.pipe)
        self.probe_respawn_at = None
        log.debug("probe started (pid %d)", self.probe.pid)

    def on_probe_exit(self, status: int) -> None:
        assert self.probe is not None
        self.probe.reaped(status)
        self.probe.close_pipe()
        self.probe = None
        self.probe_writer = None
        if self.exit_code is None:
            log.error("probe process %s: restarting it", describe_exit(status))
            self.probe_respawn_at = self.clock() + 1.0


def _record_only(signum: int, frame: object) -> None:
    """Signal handler: the wakeup fd already told the loop; nothing else happens here."""
