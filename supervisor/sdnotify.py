"""systemd's notification protocol (sd_notify), spoken directly: no library needed.

systemd passes ``NOTIFY_SOCKET`` (a datagram socket; ``@name`` is Linux's
abstract namespace) and, with ``WatchdogSec=``, ``WATCHDOG_USEC``. Each message
is one datagram of ``KEY=VALUE`` lines. Outside systemd the variables are unset
and every method here does nothing.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Mapping

from supervisor.protocol import Phase, Snapshot, WorkerState

log = logging.getLogger("hurricane.supervisor")


class Notifier:
    """Tells systemd how the service is doing: ready, status, watchdog, reloading, stopping."""

    def __init__(self, address: str | None = None, watchdog_usec: int | None = None) -> None:
        self.address = address
        self.watchdog_interval = watchdog_usec / 2e6 if watchdog_usec else None
        self.next_watchdog = 0.0
        self.last_status: str | None = None
        self.stopping_sent = False
        self.reload_pending = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], pid: int) -> Notifier:
        """The notifier systemd asked for; disabled when there is no usable socket."""
        address = environ.get("NOTIFY_SOCKET") or None
        if address is not None and not address.startswith(("/", "@")):
            log.warning("NOTIFY_SOCKET=%s is not a unix socket path: not notifying systemd", address)
            address = None
        return cls(address, watchdog_usec(environ, pid))

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *fields: str) -> None:
        """Send one datagram; a failure is logged and ignored, never fatal."""
        if self.address is None:
            return
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        message = "\n".join(fields).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.setblocking(False)
                sock.sendto(message, target)
        except OSError as exc:
            log.warning("cannot notify systemd at %s: %s", self.address, exc)

    def ready(self, status: str) -> None:
        """Started, or done reloading; never once stopping."""
        if self.stopping_sent:
            return
        self.reload_pending = False
        self.last_status = status
        self.send("READY=1", f"STATUS={status}")

    def status(self, text: str) -> None:
        """Shown by ``systemctl status``; sent only when it changes."""
        if text != self.last_status:
            self.last_status = text
            self.send(f"STATUS={text}")

    def reloading(self) -> None:
        """A reload (SIGHUP) began; ``ready()`` says when it is done."""
        self.reload_pending = True
        self.send("RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")

    def stopping(self) -> None:
        if not self.stopping_sent:
            self.stopping_sent = True
            self.send("STOPPING=1")

    def watchdog(self, now: float, healthy: bool) -> None:
        """Keep systemd's watchdog fed, at half its interval, for as long as we are healthy.

        Going quiet when unhealthy is the point: systemd then kills and restarts
        the service, as a failing liveness probe makes Kubernetes do.
        """
        if self.watchdog_interval is None or not healthy or now < self.next_watchdog:
            return
        self.next_watchdog = now + self.watchdog_interval
        self.send("WATCHDOG=1")


def watchdog_usec(environ: Mapping[str, str], pid: int) -> int | None:
    """``WATCHDOG_USEC``, if it is meant for this process (``WATCHDOG_PID`` unset or ours)."""
    if environ.get("WATCHDOG_PID", str(pid)) != str(pid):
        return None
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec if usec > 0 else None


def status_text(snapshot: Snapshot, wanted: int) -> str:
    """One line for ``systemctl status``: the phase and how many workers are ready."""
    workers = snapshot.workers
    ready = sum(1 for w in workers if w.state is WorkerState.READY)
    restarts = sum(snapshot.restarts.values())
    text = f"{ready}/{wanted} workers ready"
    if restarts:
        text += f", {plural(restarts, 'restart')}"
    if snapshot.phase is Phase.DRAINING:
        return f"shutting down, still serving: {text}"
    if snapshot.phase is Phase.STOPPING:
        return f"stopping: {plural(len(workers), 'worker')} finishing their requests"
    if not snapshot.startup_done:
        return f"starting: {text}"
    return text


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
