"""How the supervisor starts a child, reads its pipe and learns how it ended.

This is the only module that knows how a child is launched; ``child.py`` is
the child's side of the same contract.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from collections.abc import Callable, Sequence
from enum import Enum

from supervisor import protocol
from supervisor.options import Options
from supervisor.pipes import PipeReader
from supervisor.spec import Spec, write_descriptor

log = logging.getLogger("hurricane.supervisor")

ExitHandler = Callable[[int], None]
UNCLAIMED = 64


class Pipe(Enum):
    """Which way a child's pipe carries messages, if it has one."""

    NONE = "none"
    FROM_CHILD = "from child"
    TO_CHILD = "to child"


class ChildProcess:
    """One child: its pid, its pipe, and how it ended once reaped."""

    def __init__(
        self, role: str, pid: int, pipe: int | None, popen: subprocess.Popen[bytes] | None = None
    ) -> None:
        self.role = role
        self.pid = pid
        self.popen = popen  # None for a worker the template forked
        self.pipe = pipe  # our end, non-blocking
        self.reader = PipeReader(pipe, f"{role} (pid {self.pid})") if pipe is not None else None
        self.status: int | None = None

    @property
    def alive(self) -> bool:
        return self.status is None

    def send(self, sig: int) -> None:
        if self.status is not None:
            return
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def reaped(self, status: int) -> None:
        """The supervisor reaped this pid with waitpid; remember how it ended."""
        self.status = status
        if self.popen is not None:  # tell Popen too, or it would try to reap the pid again later
            self.popen.returncode = os.waitstatus_to_exitcode(status)

    def messages(self, everything: bool = False) -> list[protocol.ChildMessage]:
        """The messages that arrived (all that are left, with ``everything``, once it exited)."""
        if self.reader is None:
            return []
        raw = self.reader.read_all() if everything else self.reader.read()
        decoded = (protocol.decode_child(m, self.reader.lines.name) for m in raw)
        return [m for m in decoded if m is not None]

    @property
    def pipe_closed(self) -> bool:
        """The child's end is closed: it exited (or closed it), nothing more will come."""
        return self.reader is not None and self.reader.eof

    def close_pipe(self) -> None:
        if self.pipe is not None:
            os.close(self.pipe)
            self.pipe = None
            self.reader = None


def spawn(
    role: str,
    argv: Sequence[str],
    options: Options,
    fds: dict[str, int] | None = None,
    pipe: Pipe = Pipe.NONE,
    index: int = 0,
    request_limit: int | None = None,
) -> ChildProcess:
    """Start ``argv --spec-fd N``; the child reads its Spec from that descriptor.

    ``fds`` are inherited sockets, named in the spec. With a pipe, the child gets
    its end as ``Spec.pipe`` and ours is returned non-blocking in ``ChildProcess.pipe``.
    """
    fds = dict(fds or {})
    ours = theirs = None
    if pipe is not Pipe.NONE:
        read_end, write_end = os.pipe()
        ours, theirs = (read_end, write_end) if pipe is Pipe.FROM_CHILD else (write_end, read_end)
    spec = Spec(role, options, os.getpid(), -1 if theirs is None else theirs, index, fds, request_limit)
    spec_fd = write_descriptor(spec.to_json().encode())
    inherited = [*fds.values(), spec_fd, *([theirs] if theirs is not None else [])]
    try:
        # A process group of its own: a signal sent to the supervisor's group (Ctrl-C,
        # `kill -- -PGID`, dumb-init, GNU timeout, honcho) reaches the supervisor alone,
        # which then stops its children the way it always does.
        popen = subprocess.Popen(
            [*argv, "--spec-fd", str(spec_fd)],
            pass_fds=inherited,
            stdin=subprocess.DEVNULL,
            process_group=0,
        )
    except BaseException:
        if ours is not None:
            os.close(ours)
        raise
    finally:
        os.close(spec_fd)
        if theirs is not None:
            os.close(theirs)
    return ChildProcess(role, popen.pid, ours, popen)


class Reaper:
    """Collects every exited child, ours or orphaned (the supervisor may be PID 1), and
    hands each known pid's wait status to the handler registered for it."""

    def __init__(self) -> None:
        self.handlers: dict[int, ExitHandler] = {}
        # Exits of pids nobody watched yet: a forked worker can die before the template
        # has told us its pid.
        self.unclaimed: dict[int, int] = {}

    def watch(self, pid: int, handler: ExitHandler) -> None:
        status = self.unclaimed.pop(pid, None)
        if status is None:
            self.handlers[pid] = handler
        else:
            handler(status)

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            handler = self.handlers.pop(pid, None)
            if handler is not None:
                handler(status)
                continue
            log.debug("reaped pid %d (%s)", pid, describe_exit(status))
            self.unclaimed[pid] = status
            if len(self.unclaimed) > UNCLAIMED:  # orphans we are PID 1 for: forget the oldest
                del self.unclaimed[next(iter(self.unclaimed))]


def describe_exit(status: int, why_killed: str = "") -> str:
    """A wait status in words, as a log line wants it; ``why_killed`` explains a SIGKILL."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        why = f" ({why_killed})" if why_killed and sig == signal.SIGKILL else ""
        return f"killed by {name}{why}"
    return f"exited with code {os.waitstatus_to_exitcode(status)}"
