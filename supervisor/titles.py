"""Process titles: what ps and top show for each of Hurricane's processes."""

from __future__ import annotations

import ctypes
import sys

PR_SET_NAME = 15


def set_title(title: str) -> None:
    """Show ``title`` in ps and top: the whole command line with setproctitle if installed,
    else the kernel's 15-character process name (``hurricane worker 3`` is ``hurricane-w3``)."""
    try:
        import setproctitle  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        if sys.platform.startswith("linux"):
            name = ctypes.create_string_buffer(short_name(title).encode()[:15])
            prctl(PR_SET_NAME, ctypes.addressof(name))
        return
    setproctitle.setproctitle(title)


ABBREVIATIONS = {"supervisor": "sup", "prestart": "pre", "worker": "w", "template": "tmpl", "consumer": "c"}


def short_name(title: str) -> str:
    """A title within the kernel's 15 characters: ``hurricane worker 3`` is ``hurricane-w3``,
    ``hurricane supervisor :8000`` is ``hurricane-sup``."""
    words = title.split()
    if len(words) < 2:
        return title[:15]
    role = ABBREVIATIONS.get(words[1], words[1][:5])
    number = words[2] if len(words) > 2 and words[2].isdigit() else ""
    return f"{words[0]}-{role}{number}"[:15]


def prctl(option: int, arg: int) -> None:
    """Linux's prctl(2); a system without it, or a failure, changes nothing."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0)
    except (OSError, AttributeError):
        pass
