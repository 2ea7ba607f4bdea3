"""The supervisor: owns the sockets and children, reads heartbeats, restarts, relays health.

One thread, one loop. Signal handlers only wake the loop (``set_wakeup_fd``);
everything else happens in ``step()``, which a test can drive directly.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from supervisor import health, protocol
from supervisor.options import Options
from supervisor.process import ChildProcess, describe_exit, spawn
from supervisor.restart import RestartPolicy
from supervisor.sockets import BindError, bind, bound_port

log = logging.getLogger("hurricane.supervisor")

HANG_KILL_GRACE = 2.0  # a hung worker rarely handles SIGTERM; SIGKILL follows this soon
PROBE_STOP_GRACE = 2.0
TICK = 0.25


@dataclass
class Worker:
    """The supervisor's record of one worker process."""

    index: int
    child: ChildProcess
    reader: protocol.LineReader
    spawned_at: float
    last_hb_at: float | None = None
    heartbeat: dict[str, Any] = field(default_factory=dict)
    state: str = "booting"
    retiring: str | None = None  # why we are stopping it, once we are
    kill_at: float | None = None
    boot_error: str | None = None

    @property
    def pid(self) -> int:
        return self.child.pid


@dataclass
class Slot:
    """One of the ``--workers`` places, kept across the processes that fill it."""

    policy: RestartPolicy = field(default_factory=RestartPolicy)
    restarts: int = 0
    last_exit: str | None = None
    respawn_at: float | None = 0.0


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
        self.started_at = clock()
        self.selector = selectors.DefaultSelector()
        self.workers: list[Worker] = []
        self.slots = [Slot() for _ in range(options.workers)]
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
        self.app_socket = bind(opts.host, opts.port, "--port")
        app_port = bound_port(self.app_socket)
        probe_note = "no probes"
        if not opts.no_probe:
            try:
                self.probe_socket = bind(opts.host, opts.effective_probe_port, "--probe-port")
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
                self.handle_signal(signum, actions[signum])

    def handle_signal(self, signum: int, action: Callable[[], None]) -> None:
        if signum != signal.SIGCHLD:
            log.info("received %s", signal.Signals(signum).name)
        action()

    def begin_shutdown(self) -> None:
        """SIGTERM/SIGINT: fail readiness now, keep serving for the delay, then drain."""
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
        for worker in self.workers:
            self.retire(worker, "shutdown", now + self.options.graceful_timeout)

    def stop_now(self, code: int = 1) -> None:
        for worker in self.workers:
            worker.child.send(signal.SIGKILL)
        self.finish(code)

    def finish(self, code: int) -> None:
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
        for sock in (self.app_socket, self.probe_socket):
            if sock is not None:
                sock.close()
        signal.set_wakeup_fd(-1)

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

    def spawn_worker(self, index: int) -> Worker:
        assert self.app_socket is not None
        spec = {"options": self.options.to_json(), "index": index, "app_fd": self.app_socket.fileno()}
        child = spawn("worker", self.worker_argv, spec, [self.app_socket.fileno()], with_pipe="from_child")
        worker = Worker(index, child, protocol.LineReader(f"worker {index}"), self.clock())
        assert child.pipe is not None
        self.selector.register(child.pipe, selectors.EVENT_READ, lambda: self.on_pipe(worker))
        self.workers.append(worker)
        self.slots[index].respawn_at = None
        log.info("worker %d started (pid %d)", index, worker.pid)
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
        worker.heartbeat = msg
        worker.last_hb_at = self.clock()
        state = str(msg.get("state", "booting"))
        if state == "ready" and worker.state == "booting":
            log.info(
                "worker %d (pid %d) ready in %.2fs",
                worker.index,
                worker.pid,
                worker.last_hb_at - worker.spawned_at,
            )
            self.ever_ready = True
        worker.state = state

    def watch(self, worker: Worker, now: float) -> None:
        """Escalate stops that take too long; catch hung and stuck-booting workers."""
        if worker.retiring is not None:
            if worker.kill_at is not None and now >= worker.kill_at and worker.child.alive:
                log.warning("worker %d (pid %d) did not stop: killing", worker.index, worker.pid)
                worker.child.send(signal.SIGKILL)
                worker.kill_at = None
            return
        opts = self.options
        if worker.state == "booting" and now - worker.spawned_at > opts.startup_timeout:
            log.error(
                "worker %d (pid %d) still booting after %.1fs: replacing it",
                worker.index,
                worker.pid,
                now - worker.spawned_at,
            )
            self.replace(worker, "startup-timeout", now)
        elif worker.state != "booting" and worker.last_hb_at is not None:
            silent = now - worker.last_hb_at
            if silent > opts.heartbeat_timeout:
                log.error(
                    "worker %d (pid %d) sent no heartbeat for %.1fs: hung, dumping its stacks "
                    "and replacing it",
                    worker.index,
                    worker.pid,
                    silent,
                )
                worker.child.send(signal.SIGUSR1)  # faulthandler dumps every thread's stack
                worker.child.send(signal.SIGCONT)  # so a stopped worker can dump and die
                self.replace(worker, "hang", now)

    def replace(self, worker: Worker, reason: str, now: float) -> None:
        """Stop a failed worker quickly and schedule its slot's respawn with backoff."""
        self.retire(worker, reason, now + HANG_KILL_GRACE)
        self.schedule_respawn(worker.index, reason, now)

    def retire(self, worker: Worker, reason: str, kill_at: float) -> None:
        if worker.retiring is None:
            worker.retiring = reason
            worker.kill_at = kill_at
            worker.child.send(signal.SIGTERM)

    def schedule_respawn(self, index: int, reason: str, now: float) -> None:
        slot = self.slots[index]
        delay = slot.policy.on_crash(now)
        slot.restarts += 1
        slot.respawn_at = now + delay
        self.restarts[reason] += 1
        if delay:
            log.warning("worker %d restarts in %.1fs (crash #%d)", index, delay, slot.policy.crashes)

    def on_worker_exit(self, worker: Worker, status: int) -> None:
        worker.child.reaped(status)
        if worker.child.pipe is not None:
            self.on_pipe_drain(worker)
        self.workers.remove(worker)
        how = describe_exit(status)
        slot = self.slots[worker.index]
        slot.last_exit = how
        if worker.retiring is not None:
            log.info("worker %d (pid %d) %s (%s)", worker.index, worker.pid, how, worker.retiring)
            return
        if self.phase in ("draining", "stopping"):
            log.info("worker %d (pid %d) %s", worker.index, worker.pid, how)
            return
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == protocol.EXIT_BOOT_ERROR:
            self.on_boot_error(worker)
            return
        log.error("worker %d (pid %d) %s: restarting it", worker.index, worker.pid, how)
        self.schedule_respawn(worker.index, "crash", self.clock())

    def on_pipe_drain(self, worker: Worker) -> None:
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

    def on_boot_error(self, worker: Worker) -> None:
        error = worker.boot_error or "the worker exited during boot"
        if not self.ever_ready:
            log.error("the application cannot start: %s", error)
            self.stop_now(1)
            return
        log.error("worker %d (pid %d) failed to boot: %s", worker.index, worker.pid, error)
        self.schedule_respawn(worker.index, "boot-error", self.clock())

    def respawn_due(self, now: float) -> None:
        active = {w.index for w in self.workers if w.retiring is None}
        for index, slot in enumerate(self.slots):
            if index not in active and slot.respawn_at is not None and now >= slot.respawn_at:
                self.spawn_worker(index)

    # -- health -----------------------------------------------------------------

    def track_health(self, now: float) -> None:
        limit = health.stale_after(self.options)
        for worker in self.workers:
            fresh = worker.last_hb_at is not None and now - worker.last_hb_at <= limit
            if worker.state == "ready" and worker.retiring is None and fresh:
                self.last_healthy_at = now
                self.slots[worker.index].policy.on_healthy(now)

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
        return snap

    def describe(self, worker: Worker, now: float) -> dict[str, Any]:
        slot = self.slots[worker.index]
        age = now - (worker.last_hb_at if worker.last_hb_at is not None else worker.spawned_at)
        return {
            "worker": worker.index,
            "pid": worker.pid,
            "state": "draining" if worker.retiring else worker.state,
            "hb_age_s": round(age, 3),
            "restarts": slot.restarts,
            "last_exit": slot.last_exit,
            "retiring": worker.retiring,
            "heartbeat": worker.heartbeat,
        }

    def publish(self) -> None:
        self.seq += 1
        snap = self.snapshot()
        if self.probe_writer is None:
            return
        try:
            self.probe_writer.send(protocol.encode(snap, limit=1 << 24))
        except BrokenPipeError:
            pass  # the probe died; on_probe_exit restarts it

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
