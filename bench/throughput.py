"""wrk sections beyond the core: two workers, a heavy JSON view, async views.

two-workers: /hello and the SQLite view with two workers each, wrk -t2 -c32; with
the CPU each request cost the whole process tree, and the busiest process's part
of it (50% when two workers share the load evenly; a keep-alive connection stays
with the worker that accepted it, so how they are spread decides the throughput).
heavy: /report (about 25 ms of pure-Python work per request) at 8 connections,
one worker; first right after start-up, while Hurricane's placement is still
learning the route, then after the usual warm-up; with CPU per request.
async: an ``async def`` view awaiting asyncio.sleep(0.05) at 256 connections,
and the sync /hello (16 connections) measured alone and while that async load
runs, one worker each; the ASGI peers serve Django's ASGI application.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from loopback import serving_pids, wrk
from process_tree import CpuUse, Running, running, tree_cpu
from report import Result, Row
from section import WARM_UP, Context, Section
from servers import Server

REPORT = "/report"
ASYNC_SLEEP = "/async-sleep?s=0.05"


def two_workers(server: Server, ctx: Context, result: Result) -> None:
    with running(server, ctx.logs, workers=2) as run:
        if len(serving_pids(run.port, 2)) < 2:
            result.note("only one of its two workers answered /pid before the load")
        for label, path in (("hello", "/hello"), ("notes", "/notes")):
            wrk(run.port, path, 32, WARM_UP)
            rps, p99, used = wrk_cpu(run, path, 32, ctx.duration)
            result.add(f"two_{label}_rps", rps)
            result.add(f"two_{label}_p99_ms", p99)
            result.add(f"two_{label}_cpu_ms", used.ms_per_request(rps * ctx.duration))
            result.add(f"two_{label}_busiest_pct", used.busiest_share())


def heavy(server: Server, ctx: Context, result: Result) -> None:
    with running(server, ctx.logs) as run:
        for label in ("cold", "warm"):
            if label == "warm":
                wrk(run.port, REPORT, 8, WARM_UP)
            rps, p99, used = wrk_cpu(run, REPORT, 8, ctx.duration)
            result.add(f"report_{label}_rps", rps)
            result.add(f"report_{label}_p99_ms", p99)
            result.add(f"report_{label}_cpu_ms", used.ms_per_request(rps * ctx.duration))


def wrk_cpu(run: Running, path: str, conns: int, duration: int) -> tuple[float, float | None, CpuUse]:
    """A wrk run, and what the server's processes computed meanwhile."""
    before = tree_cpu(run.proc.pid)
    rps, p99 = wrk(run.port, path, conns, duration)
    return rps, p99, CpuUse.between(before, tree_cpu(run.proc.pid))


def async_views(server: Server, ctx: Context, result: Result) -> None:
    with running(server, ctx.logs) as run:
        for label, path, conns in (("hello", "/hello", 16), ("async", ASYNC_SLEEP, 256)):
            wrk(run.port, path, conns, WARM_UP)
            rps, p99 = wrk(run.port, path, conns, ctx.duration)
            result.add(f"{label}_rps", rps)
            result.add(f"{label}_p99_ms", p99)
        # One wrk thread each: two wrk processes share the machine with the server.
        with ThreadPoolExecutor(1) as pool:
            background = pool.submit(wrk, run.port, ASYNC_SLEEP, 256, ctx.duration + 2, 1)
            time.sleep(1.0)  # the async load is up before /hello is measured
            rps, p99 = wrk(run.port, "/hello", 16, ctx.duration, 1)
            async_rps, _ = background.result()
        result.add("hello_beside_async_rps", rps)
        result.add("hello_beside_async_p99_ms", p99)
        result.add("async_beside_hello_rps", async_rps)


TWO_WORKERS = Section(
    "two-workers",
    "Two workers each (wrk -t2 -c32)",
    ("hurricane", "granian", "gunicorn"),
    [
        Row("two_hello_rps", "hello: requests/s", True),
        Row("two_hello_p99_ms", "hello: p99 ms", False),
        Row("two_hello_cpu_ms", "hello: CPU ms per request", False),
        Row("two_hello_busiest_pct", "hello: busiest process's part of the CPU %", None),
        Row("two_notes_rps", "notes (DB): requests/s", True),
        Row("two_notes_p99_ms", "notes (DB): p99 ms", False),
        Row("two_notes_cpu_ms", "notes (DB): CPU ms per request", False),
        Row("two_notes_busiest_pct", "notes (DB): busiest process's part of the CPU %", None),
    ],
    two_workers,
)

HEAVY = Section(
    "heavy",
    "Heavy JSON view (/report, ~25 ms of Python per request), 8 connections, one worker",
    ("hurricane", "gunicorn", "granian"),
    [
        Row("report_cold_rps", "report, first run after start-up: requests/s", True),
        Row("report_cold_p99_ms", "report, first run after start-up: p99 ms", False),
        Row("report_cold_cpu_ms", "report, first run after start-up: CPU ms per request", False),
        Row("report_warm_rps", "report, after warm-up: requests/s", True),
        Row("report_warm_p99_ms", "report, after warm-up: p99 ms", False),
        Row("report_warm_cpu_ms", "report, after warm-up: CPU ms per request", False),
    ],
    heavy,
)

ASYNC = Section(
    "async",
    "Async views, one worker (ASGI peers serve Django's ASGI application)",
    ("hurricane", "uvicorn", "granian-asgi", "daphne"),
    [
        Row("async_rps", "async view, asyncio.sleep 50 ms, 256 conns: requests/s", True),
        Row("async_p99_ms", "async view, asyncio.sleep 50 ms, 256 conns: p99 ms", False),
        Row("hello_rps", "sync hello alone, 16 conns: requests/s", True),
        Row("hello_p99_ms", "sync hello alone, 16 conns: p99 ms", False),
        Row("hello_beside_async_rps", "sync hello while the async load runs: requests/s", True),
        Row("hello_beside_async_p99_ms", "sync hello while the async load runs: p99 ms", False),
        Row("async_beside_hello_rps", "async view meanwhile (1 wrk thread): requests/s", True),
    ],
    async_views,
)
