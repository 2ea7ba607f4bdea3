"""Memory of the whole process tree after about 200 requests, with one worker and with four.

PSS (proportional set size, psutil's ``memory_full_info().pss``) splits each
shared page among the processes that map it, so the tree's sum is what the
server costs altogether: it shows what forking workers from a preloaded parent
saves, which RSS (a shared page counted once in every process) hides.
"""

from __future__ import annotations

import time

from loopback import serving_pids, warm
from process_tree import running, tree_pss, tree_rss
from report import Result, Row
from section import Context, Section
from servers import Server

MANY = 4
SETTLE = 1.0  # seconds after the last request, so no request's garbage is counted

ROWS = [
    Row("pss_1_mib", "PSS of the process tree MiB, 1 worker", False),
    Row(f"pss_{MANY}_mib", f"PSS of the process tree MiB, {MANY} workers", False),
    Row("rss_1_mib", "RSS of the process tree MiB, 1 worker", False),
    Row(f"rss_{MANY}_mib", f"RSS of the process tree MiB, {MANY} workers", False),
]


def measure(server: Server, ctx: Context, result: Result) -> None:
    for workers in (1, MANY) if server.scales else (1,):
        with running(server, ctx.logs, workers) as run:
            warm(run.port)
            serving = serving_pids(run.port, workers)
            if len(serving) < workers:
                result.note(f"only {len(serving)} of {workers} workers answered /pid before the reading")
            time.sleep(SETTLE)
            result.add(f"pss_{workers}_mib", tree_pss(run.proc.pid) / 2**20)
            result.add(f"rss_{workers}_mib", tree_rss(run.proc.pid) / 2**20)


SECTION = Section(
    "memory",
    f"Memory: the process tree after ~200 requests, 1 and {MANY} workers",
    ("hurricane", "gunicorn", "gunicorn-preload", "granian", "uvicorn", "django-hurricane"),
    ROWS,
    measure,
)
