"""The worker's event loop: serve, beat, and drain on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time

from hurricane.checks import CheckRunner
from hurricane.worker.heartbeat import Heartbeat
from hurricane.worker.listener import Listener
from hurricane.worker.pool import ViewPool
from hurricane.worker.stats import RequestStats
from hurricane.worker.wsgi import WSGIApp, WSGIServer
from supervisor import child
from supervisor.options import Options

log = logging.getLogger("hurricane.worker")

DRAIN_POLL = 0.02


class Worker:
    def __init__(
        self, app: WSGIApp, options: Options, index: int, sock: socket.socket, pipe: int, parent: int
    ) -> None:
        self.options = options
        self.index = index
        self.sock = sock
        self.parent = parent
        self.stats = RequestStats()
        self.executor = ViewPool(options.threads) if options.threads else None
        self.wsgi = WSGIServer(app, self.executor, self.stats, options, sock.getsockname()[1], script_name())
        self.checks = CheckRunner(options.check_interval, options.check_timeout)
        self.heartbeat = Heartbeat(
            pipe,
            index,
            options.heartbeat_interval,
            options.threads,
            self.stats,
            self.checks,
            self.wsgi.placement,
        )
        self.http = Listener(self.wsgi, options, sock)
        self.stopping: asyncio.Event | None = None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.stopping = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, self.stopping.set)
        self.heartbeat.start()
        self.heartbeat.beat()  # tell the supervisor we are alive and booting

        # Fresh check results reach the probes at once, not a heartbeat later; the
        # extra heartbeat is still sent from the loop.
        def checks_done() -> None:
            loop.call_soon_threadsafe(self.heartbeat.send_now)

        self.checks.on_round = checks_done
        self.checks.start()
        self.http.start()
        self.heartbeat.state = "ready"
        self.heartbeat.beat()
        watch = asyncio.ensure_future(self.watch_parent())
        await self.stopping.wait()
        watch.cancel()
        await self.drain()

    async def watch_parent(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            if not child.parent_alive(self.parent):
                log.error("the supervisor is gone: exiting")
                os._exit(5)

    async def drain(self) -> None:
        """Stop accepting, serve what is queued and in flight, close idle keep-alives."""
        started = time.monotonic()
        self.heartbeat.state = "draining"
        self.heartbeat.beat()
        self.wsgi.draining = True
        self.http.accept_backlog()
        self.http.stop()
        deadline = started + self.options.graceful_timeout
        while time.monotonic() < deadline:
            self.http.close_idle()
            if self.stats.in_flight == self.stuck_requests() and not self.http.between_requests():
                break
            await asyncio.sleep(DRAIN_POLL)
        else:
            log.warning(
                "worker %d: %d request(s) still running at the graceful timeout",
                self.index,
                self.stats.in_flight,
            )
        self.heartbeat.stop()
        self.heartbeat.beat()  # the final counts, which the supervisor adds to its totals
        self.wsgi.shutdown()
        log.info(
            "worker %d drained in %.2fs, %d requests served",
            self.index,
            time.monotonic() - started,
            self.stats.requests_total,
        )

    def stuck_requests(self) -> int:
        """Requests past --request-timeout: the drain does not wait for them."""
        if self.options.request_timeout is None:
            return 0
        return self.stats.running_longer_than(self.options.request_timeout)


def script_name() -> str:
    """Django's FORCE_SCRIPT_NAME: the prefix a proxy strips, given to the app as SCRIPT_NAME."""
    from django.conf import settings

    return getattr(settings, "FORCE_SCRIPT_NAME", None) or ""
