"""The HTTP worker's event loop: serve the app socket, beat, and drain on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import time

from hurricane import event_loop
from hurricane.checks import CheckRunner
from hurricane.worker.asgi import ASGIApp
from hurricane.worker.async_views import AsyncViews
from hurricane.worker.db_connections import ConnectionBudget
from hurricane.worker.dispatch import RequestDispatcher
from hurricane.worker.heartbeat import HeartbeatSender
from hurricane.worker.listener import Listener
from hurricane.worker.stats import RequestStats
from hurricane.worker.view_pool import ViewPool
from hurricane.worker.wsgi import WSGIApp
from supervisor import child
from supervisor.child import ParentPipe
from supervisor.options import Options
from supervisor.protocol import WorkerState

log = logging.getLogger("hurricane.worker")

DRAIN_POLL = 0.02


class HTTPWorker:
    def __init__(
        self,
        app: WSGIApp,
        options: Options,
        index: int,
        sock: socket.socket,
        parent: ParentPipe,
        parent_pid: int,
        request_limit: int | None = None,
        asgi_app: ASGIApp | None = None,
        async_views: AsyncViews | None = None,
    ) -> None:
        self.options = options
        self.index = index
        self.parent_pid = parent_pid
        self.stats = RequestStats(request_limit)
        self.budget = ConnectionBudget(options.db_connections_kept)
        self.executor = (
            ViewPool(options.threads, after_job=self.budget.after_request) if options.threads else None
        )
        self.lifespan = self.upgrades = None
        if asgi_app is not None:  # WebSockets go to settings.ASGI_APPLICATION
            from hurricane.worker.asgi import Lifespan
            from hurricane.worker.upgrades import WebSocketUpgrades

            self.lifespan = Lifespan(asgi_app)
            self.upgrades = WebSocketUpgrades(asgi_app, options, self.connection_gone)
        self.dispatcher = RequestDispatcher(
            app,
            self.executor,
            self.stats,
            options,
            sock.getsockname()[1],
            script_name(),
            index,
            async_views,
            self.upgrades,
        )
        self.checks = CheckRunner(options.check_interval, options.check_timeout)
        self.http = Listener(self.dispatcher.handle, options, sock, self.websockets_open)
        self.heartbeat = HeartbeatSender(
            parent,
            index,
            options.heartbeat_interval,
            options.threads,
            self.stats,
            self.checks,
            self.dispatcher.placement,
            lambda: len(self.http.connections),
            self.upgrades,
        )
        # At --max-requests the supervisor hears at once, not a heartbeat later: its
        # replacement starts while this worker still serves.
        self.stats.on_limit = self.heartbeat.send_now

    def websockets_open(self) -> int:
        return 0 if self.upgrades is None else len(self.upgrades.sessions)

    def connection_gone(self) -> None:
        self.http.connection_gone()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stopping.set)
        loop.add_signal_handler(signal.SIGUSR2, self.shutdown_pending)
        self.heartbeat.start()
        self.heartbeat.beat()  # tell the supervisor we are alive and booting
        if self.lifespan is not None:
            await self.lifespan.startup()  # LifespanFailed: the worker cannot boot
            assert self.upgrades is not None
            self.upgrades.lifespan_state = self.lifespan.state

        # Fresh check results reach the probes at once, not a heartbeat later; the
        # extra heartbeat is still sent from the loop.
        def checks_done() -> None:
            loop.call_soon_threadsafe(self.heartbeat.send_now)

        self.checks.on_round = checks_done
        self.checks.start()
        self.http.start()
        log.info(
            "worker %d: at most %d connections, on the %s event loop",
            self.index,
            self.http.max_connections,
            event_loop.chosen(self.options),
        )
        self.heartbeat.state = WorkerState.READY
        self.heartbeat.beat()
        watch = asyncio.ensure_future(child.watch_parent(self.parent_pid))
        await stopping.wait()
        watch.cancel()
        await self.drain()

    def shutdown_pending(self) -> None:
        """SIGUSR2 from the supervisor: the server is shutting down (its readiness fails while
        the shutdown delay runs); requests are still served, new WebSockets are refused."""
        if self.upgrades is not None:
            self.upgrades.refusing = True

    async def drain(self) -> None:
        """Stop accepting, serve what is queued and in flight, close idle keep-alives, and give
        open WebSockets their own time to end before closing them."""
        started = time.monotonic()
        self.heartbeat.state = WorkerState.DRAINING
        self.heartbeat.beat()
        self.dispatcher.drain()
        self.http.accept_backlog()
        self.http.stop()
        opts = self.options
        sockets = None
        if self.upgrades is not None:
            patience = min(opts.websocket_drain_timeout, opts.graceful_timeout)
            sockets = asyncio.ensure_future(self.upgrades.drain(patience, opts.websocket_shutdown_code))
        deadline = started + opts.graceful_timeout
        while time.monotonic() < deadline:
            self.http.close_idle()
            idle = self.stats.in_flight == self.stuck_requests() and not self.http.between_requests()
            if idle and (sockets is None or sockets.done()):
                break
            await asyncio.sleep(DRAIN_POLL)
        else:
            log.warning(
                "worker %d: %d request(s) still running at the graceful timeout",
                self.index,
                self.stats.in_flight,
            )
        if sockets is not None and not sockets.done():
            sockets.cancel()
        if self.lifespan is not None:
            await self.lifespan.shutdown()
        self.heartbeat.stop()
        self.heartbeat.beat()  # the final counts, which the supervisor adds to its totals
        self.dispatcher.shutdown()
        served = self.stats.requests_total
        log.info(
            "worker %d drained in %.2fs, %d request%s served",
            self.index,
            time.monotonic() - started,
            served,
            "" if served == 1 else "s",
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
