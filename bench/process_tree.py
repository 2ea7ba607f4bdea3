"""Starting a server under test and stopping it; what its process tree holds in memory."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
from loopback import free_port_pair, get
from servers import EXAMPLE, Server


class DidNotStart(Exception):
    """The server gave no 200 on /hello in time; the message ends with its log's tail."""


@dataclass
class Running:
    server: Server
    proc: subprocess.Popen[bytes]
    port: int
    startup_s: float  # launch to the first 200 on /hello


@contextmanager
def running(
    server: Server, logs: Path, workers: int = 1, websocket: bool = False, extra: list[str] | None = None
) -> Iterator[Running]:
    """Start ``server`` on a free port, wait for its first 200, and stop it (and its whole tree) after."""
    port = free_port_pair()
    argv, env = server.command(port, workers, websocket, extra)
    log_path = logs / f"{server.name}.log"
    with log_path.open("ab") as log:
        log.write(f"\n$ {' '.join(argv)}\n".encode())
        log.flush()
        started = time.monotonic()
        proc = subprocess.Popen(argv, cwd=EXAMPLE, env=env, stdout=log, stderr=log, start_new_session=True)
        try:
            if not wait_ready(port, proc, 60.0):
                raise DidNotStart(f"{server.name} did not start:\n{tail(log_path)}")
            yield Running(server, proc, port, time.monotonic() - started)
        finally:
            stop(proc)


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if get(port, "/hello") == 200:
                return True
        except (OSError, ValueError, IndexError):
            time.sleep(0.01)
    return False


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, then SIGKILL it if it lingers."""
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


def tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def tree_pids(pid: int) -> set[int]:
    return {proc.pid for proc in tree(pid)}


def tree_rss(pid: int) -> int:
    return sum(memory(proc, "rss") for proc in tree(pid))


def tree_pss(pid: int) -> int:
    """Proportional set size summed over the tree: a page shared by n processes counts 1/n in each,
    so the sum is what the tree costs together (what a pod's memory limit sees)."""
    return sum(memory(proc, "pss") for proc in tree(pid))


def memory(proc: psutil.Process, kind: str) -> int:
    try:
        info = proc.memory_full_info() if kind == "pss" else proc.memory_info()
    except psutil.Error:
        return 0  # it exited meanwhile
    return int(getattr(info, kind))


def tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user and system) each process of the tree has used so far."""
    used = {}
    for proc in tree(pid):
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue  # it exited meanwhile
        used[proc.pid] = times.user + times.system
    return used


@dataclass
class CpuUse:
    """What a server's processes computed over one measurement."""

    per_process: dict[int, float]

    @classmethod
    def between(cls, before: dict[int, float], after: dict[int, float]) -> CpuUse:
        return cls({pid: after[pid] - before.get(pid, 0.0) for pid in after})

    def ms_per_request(self, requests: float) -> float | None:
        return 1000 * sum(self.per_process.values()) / requests if requests else None

    def busiest_share(self) -> float | None:
        """The busiest process's part of the tree's CPU, in percent: 50 is two workers evenly loaded."""
        total = sum(self.per_process.values())
        return 100 * max(self.per_process.values()) / total if total else None
