"""The core rows: one worker each; throughput, probe latency under load, streaming, memory, start-up."""

from __future__ import annotations

from loopback import probe_during, ttfb, wait_ok, wrk
from process_tree import running, tree_rss
from report import Result, Row
from section import WARM_UP, Context, Section
from servers import Server

SLEEP = "/sleep?s=0.02"
CPU = "/cpu?n=3000000"

ROWS = [
    Row("hello_rps", "hello: requests/s", True),
    Row("hello_p99_ms", "hello: p99 ms", False),
    Row("notes_rps", "notes (DB): requests/s", True),
    Row("notes_p99_ms", "notes (DB): p99 ms", False),
    Row("sleep_rps", "sleep 20 ms, 64 conns: requests/s", True),
    Row("sleep_p99_ms", "sleep 20 ms, 64 conns: p99 ms", False),
    Row("probe_p99_under_load_ms", "probe p99 ms, hello at full load", False),
    Row("probe_p99_during_cpu_ms", "probe p99 ms, CPU-bound view running", False),
    Row("floor_p99_under_load_ms", "floor p99 ms, hello at full load", None),
    Row("floor_p99_during_cpu_ms", "floor p99 ms, CPU-bound view running", None),
    Row("stream_ttfb_ms", "streaming: time to first byte ms", False),
    Row("rss_mib", "RSS of the process tree MiB", False),
    Row("startup_s", "start-up s (to first 200)", False),
]


def measure(server: Server, ctx: Context, result: Result) -> None:
    with running(server, ctx.logs) as run:
        port = run.port
        result.add("startup_s", run.startup_s)
        probe_port, probe_path = server.probe(port)
        wait_ok(probe_port, probe_path, 30.0)
        # Before any load: a CPU-bound request still running would delay the first chunk.
        result.add("stream_ttfb_ms", ttfb(port, "/stream?chunks=5&delay=0.1"))
        for label, path, conns in (("hello", "/hello", 16), ("notes", "/notes", 16), ("sleep", SLEEP, 64)):
            wrk(port, path, conns, WARM_UP)
            rps, p99 = wrk(port, path, conns, ctx.duration)
            result.add(f"{label}_rps", rps)
            result.add(f"{label}_p99_ms", p99)
        for label, path, conns in (("under_load", "/hello", 16), ("during_cpu", CPU, 2)):
            wrk(port, path, conns, WARM_UP)
            probe, floor = probe_during(
                port, (probe_port, probe_path), (ctx.floor_port, "/"), path, conns, ctx.duration
            )
            result.add(f"probe_p99_{label}_ms", probe)
            result.add(f"floor_p99_{label}_ms", floor)
        result.add("rss_mib", tree_rss(run.proc.pid) / 2**20)


SECTION = Section(
    "core",
    "Core: one worker each",
    ("hurricane", "gunicorn", "granian", "uvicorn", "django-hurricane"),
    ROWS,
    measure,
)
