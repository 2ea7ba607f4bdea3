"""Where each request runs: the shared view threads, a route's own lane, or inline on the loop.

One ``RequestDispatcher`` per worker. It builds each request's WSGI environ, asks
the placement where the route runs, and starts the exchange there.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from hurricane.worker.access import AccessLog
from hurricane.worker.async_views import AsyncExchange, AsyncViews
from hurricane.worker.connection import Connection
from hurricane.worker.environ import EnvironBuilder, TrustedProxies
from hurricane.worker.handoff import Handoff, shares_socket
from hurricane.worker.placement import Place, RoutePlacement
from hurricane.worker.request import RequestHead, wants_websocket
from hurricane.worker.stats import RequestStats
from hurricane.worker.view_pool import ViewPool
from hurricane.worker.wsgi import Exchange, Serving, WSGIApp, empty_input
from supervisor.options import Options

if TYPE_CHECKING:
    from hurricane.worker.upgrades import WebSocketUpgrades

MAX_LANES = 8  # routes that may take turns on a thread of their own; others share the threads


class RequestDispatcher:
    def __init__(
        self,
        app: WSGIApp,
        executor: ViewPool | None,
        stats: RequestStats,
        options: Options,
        port: int,
        script_name: str = "",
        worker: int = 0,
        async_views: AsyncViews | None = None,
        upgrades: WebSocketUpgrades | None = None,
    ) -> None:
        self.executor = executor
        self.async_views = async_views
        self.upgrades = upgrades
        adaptive = executor is not None and not options.no_adaptive_views
        self.placement = RoutePlacement() if adaptive else None
        self.lanes: dict[str, ViewPool] = {}  # a thread for each route that takes turns
        # Several workers share the socket: a busy one passes connections to idle ones.
        self.handoff = Handoff(lambda: stats.queued) if shares_socket(options) else None
        access = AccessLog(options.access_log_format)
        self.serving = Serving(app, stats, self.placement, self.busy_threads, access, worker)
        self.environ = EnvironBuilder(
            port, script_name, TrustedProxies(options.trusted_proxies), shares_socket(options)
        )

    def handle(self, conn: Connection, head: RequestHead, body: IO[bytes] | None, size: int) -> None:
        """Start one request (on the loop thread)."""
        body = body or empty_input()
        environ = self.environ.build(head, body, size, conn.peer)
        if self.upgrades is not None and wants_websocket(head):
            self.upgrades.upgrade(conn, head, environ)
            return
        if self.async_views is not None and self.async_views.is_async(environ["PATH_INFO"]):
            AsyncExchange(self.serving, self.async_views, conn, head, environ, body).start()
            return
        exchange = Exchange(self.serving, conn, head, environ, body)
        if head.keep_alive and self.handoff is not None and self.handoff.due(len(conn.registry)):
            exchange.response.keep_alive = False
        if self.executor is None:
            exchange.run_inline()
            return
        place = Place.THREADS if self.placement is None else self.placement.place(exchange.route)
        if place is Place.INLINE:
            exchange.run_inline(self.placement)
            return
        pool = self.executor
        if place is Place.SERIAL and (lane := self.lane(exchange.route)) is not None:
            pool, exchange.place = lane, Place.SERIAL
        self.serving.stats.submit()
        pool.submit(exchange.run_in_thread)

    def lane(self, route: str) -> ViewPool | None:
        lane = self.lanes.get(route)
        if lane is None and len(self.lanes) < MAX_LANES:
            assert self.executor is not None  # lanes exist only beside the shared threads
            lane = self.lanes[route] = ViewPool(1, name="hurricane-turns", after_job=self.executor.after_job)
        return lane

    def busy_threads(self) -> int:
        """View threads running a request just now (a hint, read from any thread)."""
        executor = 0 if self.executor is None else self.executor.busy()
        return executor + sum(lane.busy() for lane in list(self.lanes.values()))

    def drain(self) -> None:
        """From now on responses close their connections (``Connection: close``)."""
        self.serving.draining = True

    def shutdown(self) -> None:
        """After the drain: the view threads end after their current request."""
        for pool in [self.executor, *self.lanes.values()]:
            if pool is not None:
                pool.shutdown()
