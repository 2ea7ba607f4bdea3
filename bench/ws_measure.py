"""WebSocket rows: echo round trips with 64 clients, and a worker's memory with 1,000 idle sockets.

Every server serves bench/apps/ws_app.py: the example project plus a Channels
echo consumer at /ws/echo (Hurricane through its settings' ASGI_APPLICATION).
The load comes from bench/ws_load.py in a process of its own. A server that does
not complete a WebSocket echo first is skipped, with the reason under the table.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import time

import psutil
from loopback import served_pid
from process_tree import Running, running
from report import Result, Row
from section import WARM_UP, Context, Section
from servers import BENCH, Server, python

LOADER = [python("ws-client"), str(BENCH / "ws_load.py")]
ECHO_CLIENTS = 64
MESSAGE = 100  # bytes
IDLE = 1000

ROWS = [
    Row("ws_echo_rps", f"WebSocket echo, {ECHO_CLIENTS} clients, {MESSAGE} B: round trips/s", True),
    Row("ws_echo_p99_ms", f"WebSocket echo, {ECHO_CLIENTS} clients, {MESSAGE} B: p99 ms", False),
    Row("ws_idle_rss_mib", f"worker RSS MiB with {IDLE:,} idle WebSockets", False),
    Row("ws_idle_growth_mib", f"worker RSS growth MiB for {IDLE:,} idle WebSockets", False),
]


def measure(server: Server, ctx: Context, result: Result) -> None:
    if server.name == "hurricane" and importlib.util.find_spec("channels") is None:
        result.note(
            "skipped: Channels is not installed for the benchmark's interpreter (pip install channels)"
        )
        return
    with running(server, ctx.logs, websocket=True) as run:
        url = f"ws://127.0.0.1:{run.port}/ws/echo"
        check = subprocess.run(
            [*LOADER, "check", url], check=False, capture_output=True, text=True, timeout=60
        )
        if check.returncode != 0:
            why = (check.stdout or check.stderr).strip().splitlines()
            result.note(f"skipped: {why[-1] if why else 'no WebSocket echo'}")
            return
        echo(url, WARM_UP)
        got = echo(url, ctx.duration)
        result.add("ws_echo_rps", got["round_trips_per_s"])
        result.add("ws_echo_p99_ms", got["p99_ms"])
        idle_memory(run, url, result)


def echo(url: str, duration: int) -> dict[str, float]:
    out = subprocess.run(
        [*LOADER, "echo", url, "--clients", str(ECHO_CLIENTS), "--size", str(MESSAGE), "--duration", str(duration)],
        capture_output=True, text=True, timeout=duration + 60, check=True,
    ).stdout  # fmt: skip
    return dict(json.loads(out))


def idle_memory(run: Running, url: str, result: Result) -> None:
    """The serving worker's RSS before, and while ``IDLE`` WebSockets are open on it."""
    worker = served_pid(run.port)
    if worker is None:
        result.note("/pid did not answer: no worker RSS")
        return
    before = psutil.Process(worker).memory_info().rss
    holder = subprocess.Popen([*LOADER, "idle", url, "--clients", str(IDLE)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdin is not None
        opened = json.loads(holder.stdout.readline() or "{}").get("open", 0)
        if opened != IDLE:
            result.note(f"{opened} of {IDLE:,} WebSockets opened")
        if not opened:
            return
        time.sleep(1.0)
        rss = psutil.Process(worker).memory_info().rss
        result.add("ws_idle_rss_mib", rss / 2**20)
        result.add("ws_idle_growth_mib", (rss - before) / 2**20)
        holder.stdin.close()
        holder.wait(30)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


SECTION = Section(
    "websocket",
    f"WebSockets, one worker (echo round trips; memory with {IDLE:,} idle connections)",
    ("hurricane", "uvicorn", "granian-asgi", "daphne"),
    ROWS,
    measure,
)
