"""How a child process starts and talks to its supervisor: the child's side of it.

Every child (probe, prestart, worker) begins with ``start()``: read the launch
spec from the descriptor the supervisor passed, die with the supervisor, and
take a readable process title. ``ParentPipe`` sends its messages; ``watch_parent``
ends it when the supervisor is gone. ``process.py`` is the supervisor's side.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import NoReturn

from supervisor import descriptors, pipes, protocol
from supervisor.spec import Spec, read_descriptor
from supervisor.titles import prctl, set_title

log = logging.getLogger("hurricane.supervisor")

PR_SET_PDEATHSIG = 1
PARENT_POLL = 1.0  # seconds between checks that the supervisor is still there


def read_spec(argv: list[str]) -> Spec:
    """The spec from ``--spec-fd N``, as ``process.spawn`` passed it."""
    if len(argv) != 2 or argv[0] != "--spec-fd" or not argv[1].isdigit():
        raise SystemExit("usage: --spec-fd N (children are started by the supervisor)")
    return Spec.from_json(read_descriptor(int(argv[1])))


def start(argv: list[str], kind: str = "worker") -> Spec:
    """The first thing a child does: read its spec, follow its parent, take its title
    (``hurricane worker 3``, ``hurricane consumer 0``, ``hurricane probe``)."""
    spec = read_spec(argv)
    begin(spec, kind)
    return spec


def begin(spec: Spec, kind: str = "worker") -> None:
    """Follow the parent, raise the descriptor limit, take the title: what every child does
    first, workers forked by the template included."""
    follow_parent(spec.parent_pid)
    descriptors.raise_limit()  # inherited raised from the supervisor, unless started otherwise
    role = spec.role if spec.role != "worker" else f"{kind} {spec.index}"
    set_title(f"hurricane {role}")


def follow_parent(parent_pid: int) -> None:
    """Ignore the terminal's signals (the supervisor decides how children stop) and ask
    the kernel to kill this process when the supervisor dies (Linux).

    The supervisor is single-threaded, so the "parent thread exits" caveat of
    PR_SET_PDEATHSIG does not bite. Other systems rely on ``watch_parent`` and on
    pipe EOF instead.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # In a process group of its own, a child writing to the terminal is in the background:
    # with `stty tostop` the kernel would stop it at its first log line.
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(protocol.EXIT_PARENT_GONE)


def parent_gone(why: str) -> NoReturn:
    log.error("the supervisor is gone (%s): exiting", why)
    logging.shutdown()
    os._exit(protocol.EXIT_PARENT_GONE)


async def watch_parent(parent_pid: int) -> NoReturn:
    """Exit once the supervisor is gone (a backstop to PR_SET_PDEATHSIG and pipe EOF)."""
    import asyncio  # only children run a loop: the supervisor does not pay for asyncio

    while True:
        await asyncio.sleep(PARENT_POLL)
        if os.getppid() != parent_pid:
            parent_gone("reparented")


class ParentPipe:
    """A child's messages to the supervisor: one atomic line each, dropped rather than
    ever blocking, and the child exits when the supervisor is gone."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        os.set_blocking(fd, False)

    def send(self, msg: protocol.ChildMessage) -> bool:
        """Send one message; False if the pipe was full and it was dropped."""
        return self.send_line(protocol.encode(msg))

    def send_line(self, line: bytes) -> bool:
        try:
            return pipes.write_line(self.fd, line)
        except BrokenPipeError:
            parent_gone("its pipe is closed")
