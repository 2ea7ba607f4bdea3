"""Start the real ``manage.py serve`` of the example project and talk to it.

Every process runs in its own session so teardown can kill the whole group by
pid; every wait has a deadline; failures carry the server's output.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example"
TESTS = ROOT / "tests"
FAST = ["--heartbeat-interval", "0.1", "--check-interval", "0.5"]


def wait_until(
    predicate: Callable[[], Any], timeout: float, what: str, output: Callable[[], str] = str
) -> Any:
    """Poll ``predicate`` until it returns something truthy, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n--- output ---\n{output()}")
        time.sleep(0.02)


class Server:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.app_port = 0
        self.probe_port = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for_line(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        def find() -> re.Match[str] | None:
            return next((m for line in list(self.lines) if (m := re.search(pattern, line))), None)

        def ended_or_found() -> re.Match[str] | None | bool:
            return find() or self.proc.poll() is not None

        wait_until(ended_or_found, timeout, f"a line matching {pattern!r}", lambda: self.output)
        match = find()
        if match is None:
            raise AssertionError(f"serve exited ({self.proc.returncode}) before {pattern!r}:\n{self.output}")
        return match

    def request(
        self,
        method: str,
        path: str,
        port: int | None = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
        host: str = "127.0.0.1",
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(host, port or self.app_port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def get(self, path: str, **kwargs: Any) -> tuple[int, bytes]:
        status, _, body = self.request("GET", path, **kwargs)
        return status, body

    def probe(self, path: str) -> tuple[int, dict[str, Any]]:
        status, _, body = self.request("GET", path, port=self.probe_port, timeout=5.0)
        return status, json.loads(body)

    def probe_ok(self, path: str) -> bool:
        try:
            return self.probe(path)[0] == 200
        except OSError:
            return False

    def worker_pids(self) -> list[int]:
        _, body = self.probe("/alive")
        return [w["pid"] for w in body["workers"] if w["state"] == "ready"]

    def wait_ready(self, timeout: float = 30.0) -> None:
        wait_until(lambda: self.probe_ok("/ready"), timeout, "/ready to answer 200", lambda: self.output)

    def children(self) -> list[int]:
        return child_pids(self.proc.pid)

    def signal(self, sig: int) -> None:
        os.kill(self.proc.pid, sig)

    def wait_exit(self, timeout: float = 30.0) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"serve did not exit within {timeout}s\n{self.output}") from None


def child_pids(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def serve_env(*first_on_path: Path, **extra: str) -> dict[str, str]:
    """The environment for serve: the example project importable, after ``first_on_path``."""
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    paths = [*first_on_path, EXAMPLE, TESTS, ROOT]
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
    # asyncio's loop, which every install has; test_uvloop.py runs tests on uvloop's
    env.setdefault("HURRICANE_LOOP", "asyncio")
    env.update(extra)
    return env


def shadowing(tmp_path: Path, package: str, init_source: str) -> dict[str, str]:
    """A serve environment where ``package`` is a stand-in found before the real one."""
    fake = tmp_path / package
    fake.mkdir()
    (fake / "__init__.py").write_text(init_source)
    return serve_env(tmp_path)


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def start(
    *args: str,
    env: dict[str, str] | None = None,
    fast: bool = True,
    prefix: tuple[str, ...] = (),
    command: str = "serve",
) -> Server:
    """Start serve (or ``command``: consume) without waiting for anything; pair with ``stop()``.

    ``prefix`` runs serve under another command, such as ``unshare``.
    """
    cmd = [*prefix, sys.executable, str(EXAMPLE / "manage.py"), command, *(FAST if fast else []), *args]
    proc = subprocess.Popen(
        cmd,
        cwd=EXAMPLE,
        env=env or serve_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    return Server(proc)


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60.0) -> tuple[int, str]:
    """Run serve to completion (for commands that must fail); return exit code and output."""
    server = start(*args, env=env, fast=False)
    try:
        code = server.wait_exit(timeout)
    finally:
        stop(server)
    return code, server.output


@contextmanager
def serving(
    *args: str,
    env: dict[str, str] | None = None,
    ready: bool = True,
    fast: bool = True,
    prefix: tuple[str, ...] = (),
) -> Iterator[Server]:
    """Run serve on ephemeral ports until the block ends; kill its process group after."""
    server = start(
        "--host", "127.0.0.1", "--port", "0", "--probe-port", "0", *args, env=env, fast=fast, prefix=prefix
    )
    try:
        match = server.wait_for_line(r"listening on [^:]+:(\d+), probes on [^:]+:(\d+)")
        server.app_port, server.probe_port = int(match.group(1)), int(match.group(2))
        if ready:
            server.wait_ready()
        yield server
    finally:
        stop(server)


def stop(server: Server) -> None:
    """SIGTERM the process group, then SIGKILL it; collect the output."""
    proc = server.proc
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            continue
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # anything left in the group
    except ProcessLookupError:
        pass
    server._reader.join(5.0)
    if proc.stdout is not None:
        proc.stdout.close()
