"""Webhooks (``--webhook-url``): a JSON POST when startup succeeds or fails, and after
startup whenever the liveness or readiness verdict changes.

The supervisor's loop only puts payloads on a bounded queue; one daemon thread
POSTs them with urllib, one after another, each within ``SEND_TIMEOUT``. A thread
rather than a child process: a payload is a few hundred bytes, while a child would
cost an interpreter start per webhook (or one more long-lived process to
supervise), and the thread shares nothing with the loop but the queue. Failures
are logged and not retried: the next change sends the next verdict anyway.
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from supervisor import health
from supervisor.options import Options
from supervisor.protocol import Snapshot

log = logging.getLogger("hurricane.supervisor")

SEND_TIMEOUT = 5.0
EXIT_FLUSH = 2.0  # on exit, what is still queued gets this long
QUEUE_LIMIT = 100

Post = Callable[[str, bytes, float], None]


def post(url: str, body: bytes, timeout: float) -> None:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "hurricane-webhook"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # http(s) only
        response.read()


class Sender:
    """Delivers payloads from a queue on its own thread, never blocking the caller."""

    def __init__(self, url: str, send: Post = post) -> None:
        self.url = url
        self.host = urlsplit(url).netloc  # the path may carry a token: keep it out of the log
        self.send = send
        self.queue: queue.Queue[dict[str, Any] | None] = queue.Queue(QUEUE_LIMIT)
        self.thread = threading.Thread(target=self.run, name="hurricane-webhooks", daemon=True)
        self.thread.start()

    def put(self, payload: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(payload)
        except queue.Full:
            log.warning(
                "webhook %s/%s dropped: %d are still waiting", payload["type"], payload["status"], QUEUE_LIMIT
            )

    def run(self) -> None:
        while (payload := self.queue.get()) is not None:
            what = f"{payload['type']}/{payload['status']}"
            try:
                self.send(self.url, json.dumps(payload).encode(), SEND_TIMEOUT)
            except Exception as exc:  # any failure of a receiver is the receiver's
                log.warning("webhook %s to %s failed: %s", what, self.host, exc)
            else:
                log.debug("webhook %s sent to %s", what, self.host)

    def close(self, timeout: float) -> None:
        try:
            self.queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self.thread.join(timeout)


class Webhooks:
    """Decides what to send from the supervisor's health snapshots."""

    def __init__(self, options: Options, sender: Sender, hostname: str | None = None) -> None:
        self.options = options
        self.sender = sender
        self.hostname = hostname or socket.gethostname()
        self.started = False
        self.verdicts = {"liveness": True, "readiness": True}

    def send(self, kind: str, ok: bool, reason: str) -> None:
        self.sender.put(
            {
                "type": kind,
                "status": "succeeded" if ok else "failed",
                "reason": reason,
                "timestamp": int(time.time()),
                "hostname": self.hostname,
                "podname": self.hostname,  # django-hurricane's name for it
                "version": self.options.version,
            }
        )

    def observe(self, snapshot: Snapshot) -> None:
        """Called with every snapshot: send on startup, then on every change of a verdict."""
        if not self.started:
            if snapshot.startup_done:
                self.started = True
                self.send("startup", True, "ok")
            return
        for kind, check in (("liveness", health.alive), ("readiness", health.ready)):
            verdict = check(snapshot, 0.0, self.options)
            if verdict.ok != self.verdicts[kind]:
                self.verdicts[kind] = verdict.ok
                self.send(kind, verdict.ok, verdict.reason)

    def finished(self, code: int, failure: str | None) -> None:
        """The supervisor is exiting: report a startup that never happened, then flush."""
        if not self.started and code != 0:
            self.started = True
            self.send("startup", False, failure or f"exit code {code}")
        self.sender.close(EXIT_FLUSH)
