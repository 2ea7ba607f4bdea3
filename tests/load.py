"""A bounded load generator for 127.0.0.1 that counts every request's fate."""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Tally:
    ok: int = 0
    refused: int = 0  # the listener was closed: no request was sent
    retried: int = 0  # a kept-alive connection closed as the next request went out
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, ok: int = 0, refused: int = 0, retried: int = 0, failure: str | None = None) -> None:
        with self.lock:
            self.ok += ok
            self.refused += refused
            self.retried += retried
            if failure is not None:
                self.failures.append(failure)


class Load:
    """``connections`` keep-alive clients sending ``path`` back to back until stopped.

    A request counts as failed when it was sent but did not get a complete 200:
    a reset, an early close, a timeout or another status. A refused connection is
    counted apart: it means the listener was closed before the request was sent.

    Like every HTTP client library, a GET that meets a closed *kept-alive*
    connection before any byte of its response is sent again on a new connection
    (RFC 9112, 9.3.1: the server may close an idle connection just as the next
    request leaves); those are counted in ``retried``. A fresh connection gets no
    such second chance.
    """

    def __init__(self, port: int, path: str, connections: int, limit_s: float = 60.0) -> None:
        self.port = port
        self.path = path
        self.tally = Tally()
        self.stopping = threading.Event()
        self.deadline = time.monotonic() + limit_s
        self.threads = [threading.Thread(target=self.client, daemon=True) for _ in range(connections)]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> Tally:
        self.stopping.set()
        for thread in self.threads:
            thread.join(15.0)
        return self.tally

    def running(self) -> bool:
        return not self.stopping.is_set() and time.monotonic() < self.deadline

    def client(self) -> None:
        conn: http.client.HTTPConnection | None = None
        reused = False
        while self.running():
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15.0)
                try:
                    conn.connect()
                except ConnectionRefusedError:
                    self.tally.add(refused=1)
                    conn = None
                    time.sleep(0.01)  # pacing retries against a closed port, not synchronisation
                    continue
                reused = False
            try:
                conn.request("GET", self.path)
                response = conn.getresponse()  # the status line: no byte of it came if this fails
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                conn.close()
                conn = None
                if reused:
                    self.tally.add(retried=1)
                else:
                    self.tally.add(failure=f"{type(exc).__name__}: {exc}")
                continue
            except (OSError, http.client.HTTPException) as exc:
                self.tally.add(failure=f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = None
                continue
            try:
                response.read()
            except (OSError, http.client.HTTPException) as exc:
                self.tally.add(failure=f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = None
                continue
            reused = True
            if response.status == 200:
                self.tally.add(ok=1)
            else:
                self.tally.add(failure=f"HTTP {response.status}")
            if response.will_close:
                conn.close()
                conn = None
        if conn is not None:
            conn.close()
