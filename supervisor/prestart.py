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

from supervisor import protocol
from supervisor.options import Options
from supervisor.process import ChildProcess, describe_exit, spawn

log = logging.getLogger("hurricane.supervisor")


def needed(options: Options) -> bool:
    return bool(options.command or options.check_migrations or options.check_migrations_apply)


class Prestart:
    def __init__(self, argv: list[str], options: Options, clock: Callable[[], float]) -> None:
        self.argv = argv
        self.options = options
        self.clock = clock
        self.child: ChildProcess | None = None
        self.status = "running"
        self.stage = ""
        self.failure = ""
        self.started_at = 0.0
        self.reader = protocol.LineReader("prestart")

    @property
    def done(self) -> bool:
        return self.status == "done"

    def start(self, selector: selectors.BaseSelector) -> None:
        self.started_at = self.clock()
        self.child = spawn("prestart", self.argv, {"options": self.options.to_json()}, [], "from_child")
        assert self.child.pipe is not None
        selector.register(self.child.pipe, selectors.EVENT_READ, lambda: self.on_pipe(selector))
        log.info("prestart started (pid %d)", self.child.pid)

    def on_pipe(self, selector: selectors.BaseSelector) -> None:
        assert self.child is not None and self.child.pipe is not None
        try:
            data = os.read(self.child.pipe, 65536)
        except BlockingIOError:
            return
        if not data:
            selector.unregister(self.child.pipe)
            self.child.close_pipe()
            return
        for msg in self.reader.feed(data):
            if msg.get("stage"):
                self.stage = str(msg["stage"])
                self.status = f"running: {self.stage}"

    def finished(self, status: int, selector: selectors.BaseSelector) -> bool:
        """The child exited with wait status ``status``; True if everything succeeded."""
        assert self.child is not None
        self.child.reaped(status)
        if self.child.pipe is not None:
            selector.unregister(self.child.pipe)
            self.child.close_pipe()
        took = self.clock() - self.started_at
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            self.status = "done"
            log.info("prestart finished in %.2fs", took)
            return True
        self.status = "failed"
        self.failure = f"prestart {describe_exit(status)}" + (f" during {self.stage}" if self.stage else "")
        log.error("%s after %.2fs: stopping", self.failure, took)
        return False

    def stop(self) -> None:
        if self.child is not None:
            self.child.send(signal.SIGTERM)
