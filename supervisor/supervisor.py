"""The supervisor: owns the sockets, the children and the signals; relays health.

One thread, one loop. Signal handlers only wake the loop (``set_wakeup_fd``);
everything else happens in ``step()``, which a test can drive directly. What
happens to each worker is the pool's business (``pool.py``); this module decides
when the server starts, drains and stops.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import socket
import time
from collections.abc import Callable
from typing import Any

from supervisor import health, prestart, protocol, webhooks
from supervisor.options import Options
from supervisor.pool import WorkerPool
from supervisor.process import ChildProcess, describe_exit, spawn
from supervisor.sdnotify import Notifier, status_text
from supervisor.sockets import BindError, bind, bound_port, inherited

log = logging.getLogger("hurricane.supervisor")

PROBE_STOP_GRACE = 2.0
TICK = 0.25


class Supervisor:
    def __init__(
        self,
        options: Options,
        worker_argv: list[str],
        probe_argv: list[str],
        clock: Callable[[], float] = time.monotonic,
        prestart_argv: list[str] | None = None,
    ) -> None:
        self.options = options
        self.probe_argv = probe_argv
        self.clock = clock
        self.prestart: prestart.Prestart | None = None
        if prestart_argv is not None and prestart.needed(options):
            self.prestart = prestart.Prestart(prestart_argv, options, clock)
        self.started_at = clock()
        self.selector = selectors.DefaultSelector()
        self.pool = WorkerPool(options, worker_argv, self.selector, clock)
        self.phase = "starting"
        self.phase_deadline: float | None = None
        self.exit_code: int | None = None
        self.startup_done = False
        self.startup_s: float | None = None
        self.probe: ChildProcess | None = None
        self.probe_writer: protocol.SnapshotWriter | None = None
        self.probe_respawn_at: float | None = None
        self.app_socket: socket.socket | None = None
        self.probe_socket: socket.socket | None = None
        self.seq = 0
        self._wakeup_r: socket.socket | None = None
        self.notifier = Notifier.from_environ(os.environ, os.getpid())
        self.webhooks = webhooks.from_options(options)
        self.failure: str | None = None  # why the server could not start, for the webhook

    # -- start and stop ---------------------------------------------------------

    def run(self) -> int:
        """Bind, start the children, loop until stopped; return the exit code."""
        try:
            self.bind()
        except BindError as exc:
            log.error("%s", exc)
            self.failure = str(exc)
            return self.report_exit(protocol.EXIT_USAGE)
        self.install_signals()
        if self.probe_socket is not None:
            self.spawn_probe()
        if self.prestart is not None:
            self.prestart.start(self.selector)
        else:
            self.pool.respawn_due(self.clock())
        while self.exit_code is None:
            self.step()
        self.cleanup()
        return self.report_exit(self.exit_code)

    def report_exit(self, code: int) -> int:
        if self.webhooks is not None:
            self.webhooks.finished(code, self.failure)
        return code

    def bind(self) -> None:
        opts = self.options
        passed = inherited(os.environ, os.getpid())  # systemd's socket activation, in order
        if passed:
            log.info("using %d listening socket(s) passed by systemd instead of binding", len(passed))
        self.app_socket = passed.pop(0) if passed else bind(opts.host, opts.port, "--port")
        self.pool.app_fd = self.app_socket.fileno()
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
            signal.SIGTTIN: self.pool.scale_up,
            signal.SIGTTOU: self.pool.scale_down,
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

    def reload(self) -> None:
        self.notifier.reloading()
        self.pool.reload()

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
        self.phase_deadline = now + self.pool.drain_deadline()
        log.info("stopping workers (graceful timeout %.1fs)", self.options.graceful_timeout)
        # Our copy of the listening socket goes first: once the workers close theirs,
        # new connections are refused instead of waiting in a backlog nobody accepts.
        self.close_app_socket()
        self.pool.retire_all("shutdown", now + self.pool.drain_deadline())

    def stop_now(self, code: int = 1) -> None:
        self.pool.kill_all()
        self.finish(code)

    def finish(self, code: int) -> None:
        self.exit_code = code  # set first: children exiting from here on are expected to
        self.notifier.stopping()
        if self.prestart is not None:
            self.prestart.stop()
        if self.probe is not None:
            self.probe.send(signal.SIGTERM)
            self.wait_for(self.probe, PROBE_STOP_GRACE)

    def wait_for(self, child: ChildProcess, timeout: float) -> None:
        deadline = self.clock() + timeout
        while child.alive and self.clock() < deadline:
            self.reap()
            time.sleep(0.01)
        if child.alive:
            child.send(signal.SIGKILL)

    def cleanup(self) -> None:
        self.pool.kill_all()
        deadline = self.clock() + 2.0
        while self.pool.workers and self.clock() < deadline:
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
        if self.prestart is not None and self.prestart.child is not None and pid == self.prestart.child.pid:
            self.on_prestart_exit(status)
            return
        for worker in self.pool.workers:
            if worker.pid == pid:
                self.pool.on_exit(worker, status, stopping=self.phase == "stopping")
                return
        log.debug("reaped pid %d (%s)", pid, describe_exit(status))

    def on_prestart_exit(self, status: int) -> None:
        assert self.prestart is not None
        if self.prestart.finished(status, self.selector):
            self.pool.respawn_due(self.clock())
        elif self.exit_code is None:
            self.failure = self.prestart.failure
            self.stop_now(1)

    def tick(self, now: float) -> None:
        # No worker starts before the prestart commands have succeeded.
        prestarted = self.prestart is None or self.prestart.done
        # During the shutdown delay the app still serves: a worker that dies then is replaced.
        running = prestarted and self.phase in ("starting", "running", "draining")
        self.pool.tick(now, running=running)
        if self.pool.fatal is not None:
            log.error("the application cannot start: %s", self.pool.fatal)
            self.failure = f"the application cannot start: {self.pool.fatal}"
            self.stop_now(protocol.EXIT_CANNOT_START)
            return
        if self.phase == "starting" and self.startup_done:
            self.phase = "running"
        elif self.phase == "draining" and self.phase_deadline is not None:
            if now >= self.phase_deadline:
                self.stop_workers()
        elif self.phase == "stopping":
            if not self.pool.workers:
                log.info("all workers stopped")
                self.finish(0)
            elif self.phase_deadline is not None and now >= self.phase_deadline:
                log.warning("graceful timeout reached: killing %d worker(s)", len(self.pool.workers))
                self.stop_now(1)
        if self.probe is None and self.probe_respawn_at is not None and now >= self.probe_respawn_at:
            self.spawn_probe()

    # -- health -----------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        now = self.clock()
        healthy_at = self.pool.last_healthy_at
        since = now - (healthy_at if healthy_at is not None else self.started_at)
        snap: dict[str, Any] = {
            "seq": self.seq,
            "phase": self.phase,
            "prestart": self.prestart.status if self.prestart is not None else "done",
            "startup_done": self.startup_done,
            "uptime_s": round(now - self.started_at, 3),
            "since_healthy_s": round(since, 3),
            "restarts": dict(self.pool.restarts),
            "workers": self.pool.describe(now),
            "retired": self.pool.retired.to_wire(),
            "startup_s": self.startup_s,
        }
        if not self.startup_done and health.startup(snap, 0.0, self.options).ok:
            self.startup_done = snap["startup_done"] = True
            self.startup_s = snap["startup_s"] = round(now - self.started_at, 3)
            log.info("started in %.2fs", self.startup_s)
            self.notifier.ready(status_text(snap, len(self.pool.slots)))
        return snap

    def publish(self) -> None:
        self.seq += 1
        snap = self.snapshot()
        self.notify_systemd(snap)
        if self.webhooks is not None:
            self.webhooks.observe(snap)
        if self.probe_writer is None:
            return
        try:
            self.probe_writer.send(protocol.encode(snap, limit=1 << 24))
        except BrokenPipeError:
            pass  # the probe died; on_probe_exit restarts it

    def notify_systemd(self, snap: dict[str, Any]) -> None:
        """Worker counts for ``systemctl status``; the watchdog is fed only while /alive would pass."""
        status = status_text(snap, len(self.pool.slots))
        if self.notifier.reload_pending and self.startup_done and not self.pool.reloading:
            self.notifier.ready(status)  # the reload is done (a reload while starting: startup says)
        self.notifier.status(status)
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
