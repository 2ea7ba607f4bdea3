"""What every child process (probe, worker) does first: die with its supervisor.

Only the child's side lives here; ``process.py`` is the supervisor's side.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
from typing import Any

PR_SET_PDEATHSIG = 1


def follow_parent(parent_pid: int) -> None:
    """Ignore the terminal's Ctrl-C (the supervisor decides how children stop) and ask
    the kernel to kill this process when the supervisor dies (Linux).

    The supervisor is single-threaded, so the "parent thread exits" caveat of
    PR_SET_PDEATHSIG does not bite. Other systems rely on the ppid check and on
    pipe EOF instead.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(5)


def parent_alive(parent_pid: int) -> bool:
    return os.getppid() == parent_pid


def read_spec(argv: list[str]) -> dict[str, Any]:
    """The child's launch spec: ``--spec JSON`` as written by ``process.spawn``."""
    if len(argv) != 2 or argv[0] != "--spec":
        raise SystemExit("usage: --spec JSON (children are started by the supervisor)")
    spec: dict[str, Any] = json.loads(argv[1])
    return spec
