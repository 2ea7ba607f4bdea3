"""The file descriptor limit: raised to the hard limit at start, and what a worker keeps back.

A server that runs out of descriptors stops accepting, stops reading its own
files and cannot reach its database. Like Go's runtime and nginx, every
Hurricane process raises its soft ``RLIMIT_NOFILE`` to the hard limit, and each
worker caps its client connections below it (``--max-connections``), keeping a
reserve for what else it opens.
"""

from __future__ import annotations

import resource

RESERVE_MIN = 64  # descriptors kept back whatever the limit: pipes, logs, files, sockets to services
RESERVE_SHARE = 10  # and a tenth of the limit beyond that


def raise_limit() -> tuple[int, int]:
    """Raise the soft descriptor limit to the hard one; return (before, now)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft == hard:
        return soft, soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        return soft, soft
    return soft, hard


def current_limit() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def default_max_connections(limit: int, threads: int) -> int:
    """Client connections a worker may hold: the limit less a reserve for its threads'
    database connections and files, the pipes and logs, and whatever the application opens."""
    reserve = max(RESERVE_MIN, limit // RESERVE_SHARE) + 2 * threads
    return max(16, limit - reserve)
