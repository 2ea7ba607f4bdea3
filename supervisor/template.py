"""The worker template as the supervisor sees it: started, asked for workers, replaced.

The template is a child like the probe. It loads the application once; then
each worker is a fork of it, a millisecond's work instead of an interpreter's
start and a Django import, sharing the loaded pages with every other worker.
The supervisor asks over a datagram channel, handing over the worker's heartbeat
pipe, and learns the worker's pid; from then on the worker is the supervisor's
own child (it is a child subreaper), supervised like any other.

A template that dies is started again with backoff; workers keep serving
meanwhile. A reload (SIGHUP, a code change) starts a new template first and
switches to it once it is ready; one that cannot load the new code leaves the
old template, and the old workers, in place.
"""

from __future__ import annotations

import logging
import os
import select
import selectors
import signal
from collections.abc import Callable

from supervisor import channel, protocol
from supervisor.options import Options
from supervisor.process import ChildProcess, Pipe, Reaper, describe_exit, spawn
from supervisor.restart import RestartPolicy

log = logging.getLogger("hurricane.supervisor")

FORK_TIMEOUT = 5.0  # seconds the template may take to answer a fork request
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Orphaned descendants (the workers the template forks) become our children (Linux)."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


class TemplateProcess:
    """One template process and its channel."""

    def __init__(self, argv: list[str], options: Options, app_fd: int) -> None:
        ours, theirs = channel.pair()
        try:
            self.child: ChildProcess = spawn(
                "template", argv, options, {"app": app_fd, "control": theirs.fileno()}, Pipe.NONE
            )
        finally:
            theirs.close()
        self.control = ours
        self.ready = False
        self.boot_error: str | None = None

    @property
    def pid(self) -> int:
        return self.child.pid

    def take(self, message: protocol.ChildMessage) -> None:
        if isinstance(message, protocol.TemplateReady):
            self.ready = True
        elif isinstance(message, protocol.BootError):
            self.boot_error = message.error

    def receive(self) -> tuple[bool, protocol.ChildMessage | None]:
        """One message off the channel, if it held one; False once the template has gone."""
        try:
            data, fds = channel.receive(self.control)
        except OSError:
            return False, None
        for fd in fds:
            os.close(fd)
        if data is None:
            return False, None
        return True, protocol.decode_child(data, f"template (pid {self.pid})") if data else None

    def read(self) -> bool:
        """Take one message that arrived; False once the template has gone."""
        alive, message = self.receive()
        if message is not None:
            self.take(message)
        return alive

    def fork(self, index: int, request_limit: int | None, pipe: int) -> int | None:
        """Ask for a worker; its pid, or None if the template did not answer in time."""
        try:
            channel.send(self.control, protocol.ForkWorker(index, request_limit), [pipe])
        except OSError:
            return None
        while True:
            readable, _, _ = select.select([self.control], [], [], FORK_TIMEOUT)
            if not readable:
                log.error(
                    "the worker template (pid %d) did not fork a worker within %.0fs", self.pid, FORK_TIMEOUT
                )
                return None
            alive, message = self.receive()
            if not alive:
                return None
            if isinstance(message, protocol.WorkerForked):
                if message.index == index:
                    return message.pid
            elif message is not None:
                self.take(message)

    def stop(self) -> None:
        self.child.send(signal.SIGTERM)


class Templates:
    """The current template, its replacement while one boots, and restarts with backoff."""

    def __init__(
        self,
        argv: list[str],
        options: Options,
        selector: selectors.BaseSelector,
        reaper: Reaper,
        clock: Callable[[], float],
    ) -> None:
        self.argv = argv
        self.options = options
        self.selector = selector
        self.reaper = reaper
        self.clock = clock
        self.app_fd = -1  # the app socket the templates hand to the workers, from begin()
        self.current: TemplateProcess | None = None
        self.next: TemplateProcess | None = None  # a replacement loading new code
        self.on_switch: Callable[[], None] | None = None  # what to do once the replacement is ready
        self.policy = RestartPolicy()
        self.respawn_at: float | None = None
        self.ever_ready = False
        self.fatal: str | None = None  # no template could ever load the application
        self.stopped = False
        self.shutting_down = False  # a clean exit now is not restarted (a crash still is)

    @property
    def ready(self) -> bool:
        return self.current is not None and self.current.ready

    def start(self) -> TemplateProcess:
        template = TemplateProcess(self.argv, self.options, self.app_fd)
        self.selector.register(template.control, selectors.EVENT_READ, lambda: self.on_readable(template))
        self.reaper.watch(template.pid, lambda status: self.on_exit(template, status))
        log.info("worker template started (pid %d)", template.pid)
        return template

    def begin(self, app_fd: int) -> None:
        self.app_fd = app_fd
        self.current = self.start()

    def on_readable(self, template: TemplateProcess) -> None:
        was_ready = template.ready
        if not template.read():
            self.close(template)
            return
        if template.ready and not was_ready:
            self.on_ready(template)

    def on_ready(self, template: TemplateProcess) -> None:
        log.info("worker template (pid %d) ready", template.pid)
        self.ever_ready = True
        if template is self.next:  # a reload's template: switch to it, retire the old one
            old, self.current, self.next = self.current, template, None
            if old is not None:
                old.stop()
            if self.on_switch is not None:
                switch, self.on_switch = self.on_switch, None
                switch()

    def fork(self, index: int, request_limit: int | None, pipe: int) -> int | None:
        if self.current is None or not self.current.ready:
            return None
        return self.current.fork(index, request_limit, pipe)

    def replace(self, then: Callable[[], None]) -> None:
        """Load the code anew in a new template; ``then`` runs once it is ready."""
        if self.next is not None:
            self.next.stop()
        self.on_switch = then
        self.next = self.start()

    def close(self, template: TemplateProcess) -> None:
        try:
            self.selector.unregister(template.control)
        except (KeyError, ValueError):
            pass
        template.control.close()

    def on_exit(self, template: TemplateProcess, status: int) -> None:
        template.child.reaped(status)
        while template.read():  # its last words: a boot error, say
            pass
        self.close(template)
        how = describe_exit(status)
        if template is self.next:
            self.next, self.on_switch = None, None
            log.error(
                "the new worker template %s: %s; the old one and its workers carry on",
                how,
                template.boot_error or "it exited",
            )
            return
        if template is not self.current or self.stopped:
            return
        self.current = None
        if self.shutting_down and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            log.info("worker template %s during the shutdown: not restarted", how)  # it got the signal too
            return
        cannot_load = os.WIFEXITED(status) and os.WEXITSTATUS(status) == protocol.EXIT_BOOT_ERROR
        if cannot_load and not self.ever_ready:
            self.fatal = template.boot_error or "the worker template could not load the application"
            return
        delay = self.policy.on_crash(self.clock())
        self.respawn_at = self.clock() + delay
        log.error("worker template %s: starting another in %.1fs; the workers serve on", how, delay)

    def tick(self, now: float) -> None:
        if (
            self.current is None
            and not self.stopped
            and self.respawn_at is not None
            and now >= self.respawn_at
        ):
            self.respawn_at = None
            self.current = self.start()
        if self.ready:
            self.policy.on_healthy(now)

    def stop(self) -> None:
        """The server is stopping: no more workers, and the templates let go of the app socket."""
        self.stopped = True
        for template in (self.current, self.next):
            if template is not None:
                template.stop()

    @property
    def reloading(self) -> bool:
        """A replacement is loading the code anew."""
        return self.next is not None
