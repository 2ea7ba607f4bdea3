"""kill -9 a worker, and time until its replacement serves.

For Hurricane: from the SIGKILL until the probe's /ready answers 200 and lists
a ready worker with a new pid. For the peers (no readiness endpoint): until /pid
on the app port answers 200 from a process that was not in the tree before the
kill. Each kill hits a freshly started server, because the servers treat a
second crash differently: Hurricane backs off (0.5 s and more) and granian stops
on a crash within 5.5 s of the last respawn. uvicorn replaces dead workers only
when it runs two or more, so it runs two and one is killed (the survivor's
answers do not count).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable

from loopback import fetch, served_pid, serving_pids, wait_ok, warm
from process_tree import Running, running, tree_pids
from report import Result, Row
from section import Context, MeasurementFailed, Section
from servers import Server

TIMEOUT = 30.0  # seconds to wait for the replacement
POLL = 0.002  # seconds between polls

ROWS = [Row("respawn_ms", "kill -9 a worker → replacement serving, ms (median)", False)]


def measure(server: Server, ctx: Context, result: Result) -> None:
    workers = server.supervises_from or 1
    if workers > 1:
        result.note(f"runs {workers} workers (it replaces dead workers only then); one is killed")
    for _ in range(ctx.kills):
        with running(server, ctx.logs, workers, extra=server.respawn_args) as run:
            warm(run.port, 50)
            serving_pids(run.port, workers)
            time.sleep(0.5)  # idle: no request in flight when the worker dies
            took = kill_one(run)
            if took is None:
                result.note(f"no replacement served within {TIMEOUT:.0f} s")
            result.add("respawn_ms", None if took is None else took * 1000)


def kill_one(run: Running) -> float | None:
    """SIGKILL one worker; seconds until its replacement serves, or None."""
    probe_port, probe_path = run.server.probe(run.port)
    if probe_path == "/ready":
        return kill_behind_probe(probe_port)
    return kill_behind_app(run)


def kill_behind_probe(probe_port: int) -> float | None:
    """Hurricane: done when /ready is 200 and lists a ready worker that is not the one killed."""
    wait_ok(probe_port, "/ready", TIMEOUT)
    victim = ready_worker_pids(probe_port)[0]
    began = time.perf_counter()
    os.kill(victim, signal.SIGKILL)
    return wait_for(lambda: any(pid != victim for pid in ready_worker_pids(probe_port)), began)


def kill_behind_app(run: Running) -> float | None:
    """A peer: done when /pid answers from a process that was not in the tree before the kill."""
    before = tree_pids(run.proc.pid)
    victim = served_pid(run.port)
    if victim is None or victim == run.proc.pid:
        raise MeasurementFailed(f"/pid did not name a worker ({victim})")
    began = time.perf_counter()
    os.kill(victim, signal.SIGKILL)
    return wait_for(lambda: served_pid(run.port, TIMEOUT) not in (None, *before), began)


def ready_worker_pids(probe_port: int) -> list[int]:
    """The pids of the ready workers the probe lists, when /ready answers 200; else none."""
    try:
        status, body = fetch(probe_port, "/ready")
    except OSError:
        return []
    if status != 200:
        return []
    return [w["pid"] for w in json.loads(body)["workers"] if w["state"] == "ready"]


def wait_for(done: Callable[[], bool], began: float) -> float | None:
    while time.perf_counter() - began < TIMEOUT:
        if done():
            return time.perf_counter() - began
        time.sleep(POLL)
    return None


SECTION = Section(
    "respawn",
    "Respawn: kill -9 of a worker until its replacement serves",
    ("hurricane", "gunicorn", "gunicorn-preload", "granian", "uvicorn"),
    ROWS,
    measure,
)
