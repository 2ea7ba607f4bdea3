"""Talking to a server under test over 127.0.0.1: free ports, single requests, wrk runs."""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor


def free_port_pair() -> int:
    """A free port whose next port is free too (Hurricane's probe port)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
        if port < 65000 and port_free(port + 1):
            return port


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()


def get(port: int, path: str, timeout: float = 5.0) -> int:
    """The status of one request on a fresh connection (the rest of the answer is not read)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request(path))
        head = sock.recv(65536)
        return int(head.split(b" ", 2)[1])


def fetch(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """Status and body of one request on a fresh connection; the server closes it after the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request(path))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        body = unchunk(body)
    return int(head.split(b" ", 2)[1]), body


def unchunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return out


def served_pid(port: int, timeout: float = 5.0) -> int | None:
    """The pid of the process that answered /pid, or None."""
    try:
        status, body = fetch(port, "/pid", timeout)
        return int(body) if status == 200 else None
    except (OSError, ValueError, IndexError):
        return None


def wait_ok(port: int, path: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if get(port, path) == 200:
                return True
        except (OSError, ValueError, IndexError):
            pass
        time.sleep(0.05)
    return False


def warm(port: int, count: int = 200, concurrency: int = 8) -> None:
    """``count`` requests over a few views, ``concurrency`` at a time, so every worker gets some."""
    paths = ["/hello", "/notes", "/pid"]

    def one(i: int) -> None:
        try:
            get(port, paths[i % len(paths)], timeout=10.0)
        except (OSError, ValueError, IndexError):
            pass

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(count)))


def serving_pids(port: int, workers: int, timeout: float = 30.0) -> set[int]:
    """Ask /pid until ``workers`` different processes have answered (or ``timeout`` runs out)."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(2 * workers) as pool:
        while len(seen) < workers and time.monotonic() < deadline:
            got = pool.map(lambda _: served_pid(port, 10.0), range(4 * workers))
            seen.update(pid for pid in got if pid is not None)
    return seen


def wrk(
    port: int, path: str, connections: int, duration: int, threads: int = 2
) -> tuple[float, float | None]:
    """Requests per second and p99 latency (ms) of a wrk run; no p99 when no request finished."""
    out = subprocess.run(
        ["wrk", "--latency", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s",
         f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, timeout=duration + 30, check=True,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    if re.search(r"^\s*0 requests in", out, re.MULTILINE):
        return rps, None
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return rps, float(p99.group(1)) * scale[p99.group(2)] if p99 else None


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
        sock.sendall(request(path))
        data = b""
        while b"chunk 0" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return (time.perf_counter() - began) * 1000
