"""The supervisor: owns the sockets, the children and the signals; relays health.

One thread, one loop. Signal handlers only wake the loop (``set_wakeup_fd``);
everything else happens in ``step()``, which a test can drive directly. What
happens to each worker is the pool's business (``pool.py``); this module decides
when the server starts, drains and stops. docs/architecture.md has the phases.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import selectors
import signal
import socket
import time
from collections.abc import Callable

from supervisor import descriptors, health, prestart, versions
from supervisor.clock import WatchClock
from supervisor.options import Options
from supervisor.pool import WorkerPool
from supervisor.probe_process import ProbeProcess
from supervisor.process import ChildProcess, Reaper
from supervisor.protocol import (
    EXIT_CANNOT_START,
    EXIT_USAGE,
    Phase,
    PrestartStatus,
    RestartReason,
    Snapshot,
    WorkerKind,
)
from supervisor.sdnotify import Notifier, status_text
from supervisor.sockets import BindError, bind, bound_port, inherited
from supervisor.template import Templates, become_subreaper
from supervisor.titles import set_title

log = logging.getLogger("hurricane.supervisor")

PROBE_STOP_GRACE = 2.0
TICK = 0.25
REPEAT_WINDOW = 1.0  # a stop signal repeated this soon is the same request, not a second one


class Supervisor:
    def __init__(
        self,
        options: Options,
        worker_argv: list[str],
        clock: Callable[[], float] = time.monotonic,
        prestart_argv: list[str] | None = None,
        probe_argv: list[str] | None = None,
        versions: dict[str, str] | None = None,
        template_argv: list[str] | None = None,
        kind: WorkerKind = WorkerKind.HTTP,
    ) -> None:
        self.options = options
        self.versions = versions or {}
        self.template_argv = template_argv
        self.kind = kind
        self.clock = WatchClock(clock)
        self.probe_argv = probe_argv
        self.reaper = Reaper()
        self.prestart: prestart.Prestart | None = None
        if prestart_argv is not None and prestart.needed(options):
            self.prestart = prestart.Prestart(prestart_argv, options, self.clock, self.on_prestart_done)
        self.started_at = self.clock()
        self.selector = selectors.DefaultSelector()
        self.pool = WorkerPool(options, worker_argv, self.selector, self.reaper, self.clock)
        if template_argv is not None and become_subreaper():
            # Workers fork from a template that loaded the application once; as a child
            # subreaper the supervisor is the parent of every one of them all the same.
            self.pool.templates = Templates(template_argv, options, self.selector, self.reaper, self.clock)
        self.probe: ProbeProcess | None = None
        self.phase = Phase.STARTING
        self.phase_deadline: float | None = None
        self.stop_signal_at = 0.0
        self.exit_code: int | None = None
        self.startup_done = False
        self.startup_s: float | None = None
        self.app_socket: socket.socket | None = None
        self._wakeup_r: socket.socket | None = None
        self.notifier = Notifier.from_environ(os.environ, os.getpid())
        self.webhooks = None
        if options.webhook_url is not None:  # only then: urllib and ssl are several MiB
            from supervisor.webhooks import Sender, Webhooks

            self.webhooks = Webhooks(options, Sender(options.webhook_url))
        self.failure: str | None = None  # why the server could not start, for the webhook

    # -- start and stop ---------------------------------------------------------

    def run(self) -> int:
        """Bind, start the children, loop until stopped; return the exit code."""
        try:
            self.bind()
        except BindError as exc:
            log.error("%s", exc)
            self.failure = str(exc)
            return self.report_exit(EXIT_USAGE)
        self.install_signals()
        if self.probe is not None:
            self.probe.start()
        if self.pool.templates is not None:
            self.pool.templates.begin(self.pool.app_fd)  # it loads the application while prestart runs
        if self.prestart is not None:
            self.prestart.start(self.selector, self.reaper)
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
        if self.kind is WorkerKind.HTTP:  # consumers serve no socket: only the probe listens
            self.app_socket = passed.pop(0) if passed else bind(opts.host, opts.port, "--port")
            self.pool.app_fd = self.app_socket.fileno()
        probe_note = "no probes"
        probe_host = "--probe-host" if opts.probe_host is not None else "--host"
        if not opts.no_probe:
            try:
                probe_socket = (
                    passed.pop(0)
                    if passed
                    else bind(
                        opts.effective_probe_host, opts.effective_probe_port, "--probe-port", probe_host
                    )
                )
            except BindError:
                self.close_app_socket()
                raise
            self.probe = ProbeProcess(opts, probe_socket, self.reaper, self.clock, self.probe_argv)
            probe_note = f"probes on {opts.effective_probe_host}:{bound_port(probe_socket)}"
        before, limit = descriptors.raise_limit()  # the children inherit it
        raised = f" (raised from {before})" if limit != before else ""
        name = versions.line(self.versions) if self.versions else "Hurricane"
        if self.app_socket is None:
            set_title("hurricane supervisor (consume)")
            log.info(
                "%s consuming, %s, %d consumer worker(s), pid %d, file descriptor limit %d%s",
                name,
                probe_note,
                opts.workers,
                os.getpid(),
                limit,
                raised,
            )
            return
        app_port = bound_port(self.app_socket)
        set_title(f"hurricane supervisor :{app_port}")
        log.info(
            "%s listening on %s:%d, %s, %d worker(s), pid %d, file descriptor limit %d%s",
            name,
            opts.host,
            app_port,
            probe_note,
            opts.workers,
            os.getpid(),
            limit,
            raised,
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
            signal.SIGUSR1: self.pool.dump_stacks,
            signal.SIGCHLD: lambda: None,  # reaping happens on every step
        }

    def on_signals(self) -> None:
        if self._wakeup_r is None:
            return
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

    def set_phase(self, phase: Phase) -> None:
        self.phase = self.pool.phase = phase

    def reload(self) -> None:
        self.notifier.reloading()
        self.pool.reload()

    def begin_shutdown(self) -> None:
        """SIGTERM/SIGINT: fail readiness now, keep serving for the delay, then drain."""
        self.notifier.stopping()
        now = self.clock()
        if self.phase.shutting_down:
            if now - self.stop_signal_at < REPEAT_WINDOW:
                # One request that arrived twice: GNU timeout, for one, signals its child
                # and then its whole process group.
                log.debug("a stop signal again within %.1fs: the same request", REPEAT_WINDOW)
                return
            log.warning("second stop signal: stopping at once")
            self.stop_now()
            return
        self.stop_signal_at = now
        if self.probe is not None:
            self.probe.shutting_down = True
        if self.pool.templates is not None:
            self.pool.templates.shutting_down = True
        self.set_phase(Phase.DRAINING)
        if self.kind is WorkerKind.HTTP:  # a consumer has no WebSockets (SIGUSR2 would end it)
            self.pool.announce_shutdown()
        self.phase_deadline = self.clock() + (self.options.shutdown_delay or 0.0)
        if self.options.shutdown_delay:
            log.info("readiness is failing; serving for %.1fs more", self.options.shutdown_delay)

    def stop_workers(self) -> None:
        now = self.clock()
        self.set_phase(Phase.STOPPING)
        self.phase_deadline = now + self.pool.drain_deadline()
        log.info("stopping workers (graceful timeout %.1fs)", self.options.graceful_timeout)
        # Our copy of the listening socket goes first: once the workers close theirs,
        # new connections are refused instead of waiting in a backlog nobody accepts.
        self.close_app_socket()
        self.pool.retire_all(RestartReason.SHUTDOWN, now + self.pool.drain_deadline())

    def stop_now(self, code: int = 1) -> None:
        self.pool.kill_all()
        self.finish(code)

    def finish(self, code: int) -> None:
        self.exit_code = code  # set first: children exiting from here on are expected to
        self.set_phase(Phase.STOPPING)
        self.notifier.stopping()
        if self.prestart is not None:
            self.prestart.stop()
        if self.probe is not None and (child := self.probe.stop()) is not None:
            self.wait_for(child, PROBE_STOP_GRACE)

    def wait_for(self, child: ChildProcess, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while child.alive and time.monotonic() < deadline:
            self.reaper.reap()
            time.sleep(0.01)
        if child.alive:
            child.send(signal.SIGKILL)

    def cleanup(self) -> None:
        self.pool.kill_all()
        deadline = time.monotonic() + 2.0
        while self.pool.workers and time.monotonic() < deadline:
            self.reaper.reap()
            time.sleep(0.01)
        self.close_app_socket()
        if self.probe is not None:
            self.probe.sock.close()
        signal.set_wakeup_fd(-1)

    def close_app_socket(self) -> None:
        if self.app_socket is not None:
            self.app_socket.close()
            self.app_socket = None

    # -- the loop ---------------------------------------------------------------

    def step(self, timeout: float = TICK) -> None:
        events = self.selector.select(timeout)
        stalled = self.clock.lap(timeout)
        if stalled is not None:
            # Stopped or starved: what the children sent meanwhile is judged before any
            # deadline is, and the deadlines do not count the time nobody looked.
            log.warning(
                "the supervisor's loop stalled for %.1fs: its deadlines are extended by as much", stalled
            )
            events = self.selector.select(0)
        for key, _ in events:
            key.data()
        # Signals that arrived meanwhile come before the exits they may explain: a stop
        # signal sent to every process at once must be the shutdown, not a crash.
        self.on_signals()
        self.reaper.reap()
        if self.exit_code is None:
            self.tick(self.clock())
        if self.exit_code is None:
            self.publish()

    def on_prestart_done(self, ok: bool) -> None:
        if ok:
            self.pool.respawn_due(self.clock())
        elif self.exit_code is None:
            assert self.prestart is not None
            self.failure = self.prestart.failure
            self.stop_now(EXIT_CANNOT_START if self.prestart.cannot_start else 1)

    def tick(self, now: float) -> None:
        # No worker starts before the prestart commands have succeeded.
        prestarted = self.prestart is None or self.prestart.done
        # During the shutdown delay the app still serves: a worker that dies then is replaced.
        running = prestarted and self.phase is not Phase.STOPPING
        self.pool.tick(now, running=running)
        fatal = self.pool.cannot_start()
        if fatal is not None:
            log.error("the application cannot start: %s", fatal)
            self.failure = f"the application cannot start: {fatal}"
            self.stop_now(EXIT_CANNOT_START)
            return
        if self.phase is Phase.DRAINING and self.phase_deadline is not None:
            if now >= self.phase_deadline:
                self.stop_workers()
        elif self.phase is Phase.STOPPING:
            if not self.pool.workers:
                log.info("all workers stopped")
                self.finish(0)
            elif self.phase_deadline is not None and now >= self.phase_deadline:
                log.warning("graceful timeout reached: killing %d worker(s)", len(self.pool.workers))
                self.stop_now(1)
        if self.probe is not None:
            self.probe.tick(now)

    # -- health -----------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        now = self.clock()
        healthy_at = self.pool.last_healthy_at
        since = now - (healthy_at if healthy_at is not None else self.started_at)
        snap = Snapshot(
            phase=self.phase,
            prestart=self.prestart.status if self.prestart is not None else PrestartStatus.DONE,
            prestart_stage=self.prestart.stage if self.prestart is not None else "",
            startup_done=self.startup_done,
            startup_s=self.startup_s,
            uptime_s=round(now - self.started_at, 3),
            since_healthy_s=round(since, 3),
            restarts=dict(self.pool.restarts),
            workers=self.pool.describe(now),
            retired=self.pool.retired.counters(),
            versions=self.versions,
        )
        if not self.startup_done and health.startup(snap, 0.0, self.options).ok:
            self.startup_done = True
            self.startup_s = round(now - self.started_at, 3)
            log.info("started in %.2fs", self.startup_s)
            if self.phase is Phase.STARTING:  # not a shutdown that began during start-up
                self.set_phase(Phase.RUNNING)
            # The snapshot that says started must not say "starting" too.
            snap = dataclasses.replace(snap, phase=self.phase, startup_done=True, startup_s=self.startup_s)
            self.notifier.ready(status_text(snap, len(self.pool.slots)))
        return snap

    def publish(self) -> None:
        snap = self.snapshot()
        self.notify_systemd(snap)
        if self.webhooks is not None:
            self.webhooks.observe(snap)
        if self.probe is not None:
            self.probe.publish(snap)

    def notify_systemd(self, snap: Snapshot) -> None:
        """Worker counts for ``systemctl status``; the watchdog is fed only while /alive would pass."""
        status = status_text(snap, len(self.pool.slots))
        if self.notifier.reload_pending and self.startup_done and not self.pool.reloading:
            self.notifier.ready(status)  # the reload is done (a reload while starting: startup says)
        self.notifier.status(status)
        self.notifier.watchdog(self.clock(), health.alive(snap, 0.0, self.options).ok)


def _record_only(signum: int, frame: object) -> None:
    """Signal handler: the wakeup fd already told the loop; nothing else happens here."""
