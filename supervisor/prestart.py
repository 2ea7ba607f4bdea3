"""The prestart child: ``--command`` and the migration checks, once, before any worker starts.

It is a Django process (the supervisor is not), so the supervisor only starts it,
relays the stage it reports into the health snapshot (``/startup`` answers 503
with it), and learns the outcome from its exit status.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
from collections.abc import Callable

from supervisor.options import Options
from supervisor.process import ChildProcess, Pipe, Reaper, describe_exit, spawn
from supervisor.protocol import EXIT_BOOT_ERROR, ChildMessage, PrestartStage, PrestartStatus

log = logging.getLogger("hurricane.supervisor")


def needed(options: Options) -> bool:
    return bool(options.command or options.check_migrations or options.check_migrations_apply)


class Prestart:
    def __init__(
        self,
        argv: list[str],
        options: Options,
        clock: Callable[[], float],
        on_done: Callable[[bool], None],
    ) -> None:
        self.argv = argv
        self.options = options
        self.clock = clock
        self.on_done = on_done  # told whether every command succeeded
        self.child: ChildProcess | None = None
        self.status = PrestartStatus.RUNNING
        self.stage = ""
        self.failure = ""
        self.cannot_start = False  # it could not load the application at all
        self.started_at = 0.0

    @property
    def done(self) -> bool:
        return self.status is PrestartStatus.DONE

    def start(self, selector: selectors.BaseSelector, reaper: Reaper) -> None:
        self.started_at = self.clock()
        child = self.child = spawn("prestart", self.argv, self.options, pipe=Pipe.FROM_CHILD)
        assert child.pipe is not None
        selector.register(child.pipe, selectors.EVENT_READ, lambda: self.on_pipe(child, selector))
        reaper.watch(child.pid, lambda status: self.on_exit(child, status, selector))
        log.info("prestart started (pid %d)", child.pid)

    def on_pipe(self, child: ChildProcess, selector: selectors.BaseSelector) -> None:
        self.take(child.messages())
        if child.pipe_closed:
            self.close(child, selector)

    def take(self, messages: list[ChildMessage]) -> None:
        for msg in messages:
            if isinstance(msg, PrestartStage):
                self.stage = msg.stage

    def close(self, child: ChildProcess, selector: selectors.BaseSelector) -> None:
        if child.pipe is not None:
            selector.unregister(child.pipe)
            child.close_pipe()

    def on_exit(self, child: ChildProcess, status: int, selector: selectors.BaseSelector) -> None:
        child.reaped(status)
        self.take(child.messages(everything=True))
        self.close(child, selector)
        took = self.clock() - self.started_at
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            self.status = PrestartStatus.DONE
            log.info("prestart finished in %.2fs", took)
            self.on_done(True)
            return
        self.status = PrestartStatus.FAILED
        self.cannot_start = os.WIFEXITED(status) and os.WEXITSTATUS(status) == EXIT_BOOT_ERROR
        self.failure = f"prestart {describe_exit(status)}" + (f" during {self.stage}" if self.stage else "")
        log.error("%s after %.2fs: stopping", self.failure, took)
        self.on_done(False)

    def stop(self) -> None:
        if self.child is not None:
            self.child.send(signal.SIGTERM)
