"""How the supervisor starts one child process, and how it reads a child's end.

This is the only module that knows how a child is launched.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Sequence
from typing import Any


class ChildProcess:
    """One child: its pid, and the read end of its pipe if it has one."""

    def __init__(self, kind: str, popen: subprocess.Popen[bytes], pipe: int | None) -> None:
        self.kind = kind
        self.popen = popen
        self.pid = popen.pid
        self.pipe = pipe
        self.status: int | None = None

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
        # Tell Popen too, or it would try to reap the pid again later.
        self.popen.returncode = os.waitstatus_to_exitcode(status)

    def close_pipe(self) -> None:
        if self.pipe is not None:
            os.close(self.pipe)
            self.pipe = None

    @property
    def alive(self) -> bool:
        return self.status is None


def spawn(
    kind: str,
    argv: Sequence[str],
    spec: dict[str, Any],
    pass_fds: Sequence[int],
    with_pipe: str | None = None,
) -> ChildProcess:
    """Start ``argv --spec JSON``. ``with_pipe`` ("to_child"/"from_child") adds a pipe.

    The child gets its end of the pipe as ``spec["pipe"]``; the other end is
    returned in ``ChildProcess.pipe``, non-blocking.
    """
    fds = list(pass_fds)
    ours = theirs = None
    if with_pipe is not None:
        read_end, write_end = os.pipe()
        ours, theirs = (read_end, write_end) if with_pipe == "from_child" else (write_end, read_end)
        os.set_blocking(ours, False)
        spec = {**spec, "pipe": theirs}
        fds.append(theirs)
    spec = {**spec, "parent_pid": os.getpid()}
    try:
        popen = subprocess.Popen(
            [*argv, "--spec", json.dumps(spec)],
            pass_fds=fds,
            stdin=subprocess.DEVNULL,
        )
    finally:
        if theirs is not None:
            os.close(theirs)
    return ChildProcess(kind, popen, ours)


def describe_exit(status: int, oom_hint: bool = True) -> str:
    """A wait status in words, as a log line wants it. ``oom_hint``: whether a SIGKILL may
    have come from the kernel's OOM killer (not when the supervisor sent it itself)."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        hint = " (out of memory?)" if sig == signal.SIGKILL and oom_hint else ""
        return f"killed by {name}{hint}"
    return f"exited with code {os.waitstatus_to_exitcode(status)}"
