"""Benchmark Hurricane against gunicorn, uvicorn and django-hurricane 1.6 on the example project.

    python bench/run.py [--rounds 2] [--duration 5] [--servers hurricane,gunicorn,...]

Sets up one virtualenv per peer under bench/.venvs (pip from PyPI), migrates a
scratch SQLite database, then for each round starts every server in turn (one
worker process, default threads, loopback only) and measures it with wrk (apt-get
install wrk): throughput and p99 of a trivial, a database and a sleeping view,
probe latency under full load and while a CPU-bound view runs (beside a do-nothing
responder's, the machine's floor: bench/floor.py), time to first byte
of a streaming response, resident memory of the process tree, start-up time.
Each measurement follows WARM_UP seconds of the same load (Hurricane's workers
learn where each route's views run best). Rounds interleave the servers, so a
noisy neighbour hits them all alike; the table shows medians and Hurricane's
ratio to each peer. Not part of the tests.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example"
BENCH = ROOT / "bench"
VENVS = BENCH / ".venvs"
DJANGO = "django>=5.2,<5.3"
PEERS = {
    "gunicorn": [DJANGO, "gunicorn"],
    "uvicorn": [DJANGO, "uvicorn[standard]"],
    "django-hurricane": [DJANGO, "django-hurricane==1.6.*"],
}
SLEEP = "/sleep?s=0.02"
CPU = "/cpu?n=3000000"
WARM_UP = 2  # seconds of the same load before each measurement, for every server alike


@dataclass
class Server:
    name: str
    command: Callable[[int], list[str]]
    env: dict[str, str]
    probe: Callable[[int], tuple[int, str]]  # app port -> (port, path) of its readiness check
    probe_kind: str


@dataclass
class Result:
    values: dict[str, list[float]] = field(default_factory=dict)

    def add(self, metric: str, value: float | None) -> None:
        if value is not None:
            self.values.setdefault(metric, []).append(value)

    def median(self, metric: str) -> float | None:
        got = self.values.get(metric)
        return statistics.median(got) if got else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--servers", default="hurricane,gunicorn,uvicorn,django-hurricane")
    parser.add_argument("--threads", default=None, help="pass --threads N to Hurricane")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    names = args.servers.split(",")
    for name in names:
        if name in PEERS:
            ensure_venv(name)
    with tempfile.TemporaryDirectory(prefix="hurricane-bench-") as scratch:
        env = base_env(Path(scratch))
        migrate(env)
        servers = {s.name: s for s in make_servers(env, args.threads)}
        results = {name: Result() for name in names}
        floor_port = free_port_pair()
        floor = subprocess.Popen(
            [sys.executable, str(BENCH / "floor.py"), str(floor_port)], start_new_session=True
        )
        try:
            wait_ok(floor_port, "/", 10.0)
            for round_no in range(args.rounds):
                order = names if round_no % 2 == 0 else list(reversed(names))
                for name in order:
                    print(f"round {round_no + 1}/{args.rounds}: {name}", file=sys.stderr, flush=True)
                    measure(servers[name], results[name], args.duration, Path(scratch), floor_port)
        finally:
            stop(floor)
    print(machine())
    print(table(results, names))


# -- environments ---------------------------------------------------------------------


def ensure_venv(name: str) -> None:
    venv = VENVS / name
    marker = venv / ".installed"
    wanted = " ".join(PEERS[name])
    if marker.exists() and marker.read_text() == wanted:
        return
    print(f"setting up {venv} ({wanted})", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, *PEERS[name]], check=True)
    marker.write_text(wanted)


def base_env(scratch: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HURRICANE_", "DJANGO_", "PYTHON"))}
    env.update(EXAMPLE_DB=str(scratch / "db.sqlite3"), DJANGO_SETTINGS_MODULE="example.settings")
    return env


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
        cwd=EXAMPLE,
        env={**env, "PYTHONPATH": f"{EXAMPLE}{os.pathsep}{ROOT}"},
        check=True,
    )


def make_servers(env: dict[str, str], threads: str | None) -> list[Server]:
    def venv(name: str) -> str:
        return str(VENVS / name / "bin" / "python")

    ours = {**env, "PYTHONPATH": f"{EXAMPLE}{os.pathsep}{ROOT}"}
    peers = {**env, "PYTHONPATH": f"{EXAMPLE}{os.pathsep}{BENCH}"}
    plain = {**peers, "DJANGO_SETTINGS_MODULE": "plain_settings"}
    extra = ["--threads", threads] if threads else []
    return [
        Server(
            "hurricane",
            lambda p: [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(p),
                       "--probe-port", str(p + 1), "--workers", "1", *extra],
            ours,
            lambda p: (p + 1, "/ready"),
            "/ready (probe port)",
        ),
        Server(
            "gunicorn",
            lambda p: [venv("gunicorn"), "-m", "gunicorn", "--workers", "1", "--bind", f"127.0.0.1:{p}",
                       "example.wsgi:application"],
            plain,
            lambda p: (p, "/hello"),
            "app view",
        ),
        Server(
            "uvicorn",
            lambda p: [venv("uvicorn"), "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(p),
                       "--workers", "1", "asgi_app:application"],
            plain,
            lambda p: (p, "/hello"),
            "app view",
        ),
        Server(
            "django-hurricane",
            lambda p: [venv("django-hurricane"), "manage.py", "serve", "--port", str(p),
                       "--probe-port", str(p + 1)],
            peers,
            lambda p: (p + 1, "/ready"),
            "/ready (probe port)",
        ),
    ]  # fmt: skip


# -- one server, one round -------------------------------------------------------------


def measure(server: Server, result: Result, duration: int, scratch: Path, floor_port: int) -> None:
    port = free_port_pair()
    log = (scratch / f"{server.name}.log").open("ab")
    started = time.monotonic()
    proc = subprocess.Popen(
        server.command(port), cwd=EXAMPLE, env=server.env, stdout=log, stderr=log, start_new_session=True
    )
    try:
        if not wait_ready(port, proc, 60.0):
            print(f"{server.name} did not start; see {log.name}", file=sys.stderr)
            return
        result.add("startup_s", time.monotonic() - started)
        probe_port, probe_path = server.probe(port)
        wait_ok(probe_port, probe_path, 30.0)
        # Before any load: a CPU-bound request still running would delay the first chunk.
        result.add("stream_ttfb_ms", ttfb(port, "/stream?chunks=5&delay=0.1"))
        for label, path, conns in (("hello", "/hello", 16), ("notes", "/notes", 16), ("sleep", SLEEP, 64)):
            wrk(port, path, conns, WARM_UP)
            rps, p99 = wrk(port, path, conns, duration)
            result.add(f"{label}_rps", rps)
            result.add(f"{label}_p99_ms", p99)
        for label, path, conns in (("under_load", "/hello", 16), ("during_cpu", CPU, 2)):
            wrk(port, path, conns, WARM_UP)
            probe, floor = probe_during(
                port, (probe_port, probe_path), (floor_port, "/"), path, conns, duration
            )
            result.add(f"probe_p99_{label}_ms", probe)
            result.add(f"floor_p99_{label}_ms", floor)
        result.add("rss_mib", tree_rss(proc.pid) / 2**20)
    finally:
        stop(proc)
        log.close()


def free_port_pair() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port < 65000 and port_free(port + 1):
            return port


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def get(port: int, path: str, timeout: float = 5.0) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        head = sock.recv(65536)
        return int(head.split(b" ", 2)[1])


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if get(port, "/hello") == 200:
                return True
        except (OSError, ValueError, IndexError):
            time.sleep(0.01)
    return False


def wait_ok(port: int, path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if get(port, path) == 200:
                return
        except (OSError, ValueError, IndexError):
            pass
        time.sleep(0.05)


def wrk(port: int, path: str, connections: int, duration: int) -> tuple[float, float]:
    """Requests per second and p99 latency (ms) of a wrk run."""
    out = subprocess.run(
        ["wrk", "--latency", "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "10s",
         f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, timeout=duration + 30, check=True,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return rps, float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan")  # type: ignore[union-attr]


def probe_during(
    port: int, probe: tuple[int, str], floor: tuple[int, str], path: str, conns: int, duration: int
) -> tuple[float, float]:
    """p99 (ms) of fresh-connection requests to the probe and to the floor responder, in turn every
    10 ms, while wrk loads ``path``: both see the same load, so the floor is the machine's share."""
    samples: dict[tuple[int, str], list[float]] = {probe: [], floor: []}
    stop_at = time.monotonic() + duration
    load = threading.Thread(target=wrk, args=(port, path, conns, duration + 1), daemon=True)
    load.start()
    time.sleep(0.5)  # let the load build up before sampling
    while time.monotonic() < stop_at:
        for target, got in samples.items():
            began = time.perf_counter()
            try:
                get(*target, timeout=5.0)
                got.append((time.perf_counter() - began) * 1000)
            except OSError:
                got.append(5000.0)
            time.sleep(0.01)
    load.join(duration + 40)
    return p99(samples[probe]), p99(samples[floor])


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def ttfb(port: int, path: str) -> float:
    """Time (ms) to the first body byte of a streaming response."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        began = time.perf_counter()
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while b"chunk 0" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return (time.perf_counter() - began) * 1000


def tree_rss(pid: int) -> int:
    root = psutil.Process(pid)
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total


def stop(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


# -- report ---------------------------------------------------------------------------

# The last field: whether higher is better; None for the floor rows, which measure the machine.
ROWS: list[tuple[str, str, bool | None]] = [
    ("hello_rps", "hello: requests/s", True),
    ("hello_p99_ms", "hello: p99 ms", False),
    ("notes_rps", "notes (DB): requests/s", True),
    ("notes_p99_ms", "notes (DB): p99 ms", False),
    ("sleep_rps", "sleep 20 ms, 64 conns: requests/s", True),
    ("sleep_p99_ms", "sleep 20 ms, 64 conns: p99 ms", False),
    ("probe_p99_under_load_ms", "probe p99 ms, hello at full load", False),
    ("probe_p99_during_cpu_ms", "probe p99 ms, CPU-bound view running", False),
    ("floor_p99_under_load_ms", "floor p99 ms, hello at full load", None),
    ("floor_p99_during_cpu_ms", "floor p99 ms, CPU-bound view running", None),
    ("stream_ttfb_ms", "streaming: time to first byte ms", False),
    ("rss_mib", "RSS of the process tree MiB", False),
    ("startup_s", "start-up s (to first 200)", False),
]


def table(results: dict[str, Result], names: list[str]) -> str:
    peers = [n for n in names if n != "hurricane"]
    header = ["metric", *names, *[f"vs {p}" for p in peers if "hurricane" in names]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for metric, label, higher_better in ROWS:
        values = {n: results[n].median(metric) for n in names}
        cells = [label, *[fmt(values[n]) for n in names]]
        if "hurricane" in names:
            ours = values["hurricane"]
            for peer in peers:
                cells.append(ratio(ours, values[peer], higher_better))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fmt(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def ratio(ours: float | None, theirs: float | None, higher_better: bool | None) -> str:
    """How many times better Hurricane is (>1 better), whichever way the metric points."""
    if not ours or not theirs or higher_better is None:
        return "–"
    return f"{ours / theirs if higher_better else theirs / ours:.2f}×"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {psutil.virtual_memory().total / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}, "
        f"load average before the run's end {load[0]:.2f}"
    )


if __name__ == "__main__":
    main()
