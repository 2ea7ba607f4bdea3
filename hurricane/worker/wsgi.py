"""Run the WSGI application for each request, on a pool thread or inline on the loop.

A whole response (Django's ``HttpResponse``, a list) goes back to the loop in one
hop and one write. An iterable response is sent chunk by chunk as it is produced:
from a pool thread through ``Connection.write_threadsafe``, which blocks the thread
while the client is slow, so the worker never buffers a whole file.
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
from collections.abc import Callable, Iterable
from typing import IO, Any, TypeVar

from hurricane.worker.connection import Connection, State
from hurricane.worker.environ import EnvironBuilder, TrustedProxies
from hurricane.worker.placement import Place, RoutePlacement, Run, Stopwatch
from hurricane.worker.pool import ViewPool
from hurricane.worker.request import RequestHead
from hurricane.worker.response import Response
from hurricane.worker.stats import RequestStats
from supervisor.options import Options

T = TypeVar("T")

log = logging.getLogger("hurricane.worker")
access_log = logging.getLogger("hurricane.access")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
EMPTY_INPUT = b""
MAX_LANES = 8  # routes that may take turns on a thread of their own; others share the threads


class WSGIServer:
    """One per worker: the app, the pool and the counters every request shares."""

    def __init__(
        self,
        app: WSGIApp,
        executor: ViewPool | None,
        stats: RequestStats,
        options: Options,
        port: int,
        script_name: str = "",
    ) -> None:
        self.app = app
        self.executor = executor
        self.stats = stats
        self.options = options
        self.draining = False
        adaptive = executor is not None and not options.no_adaptive_views
        self.placement = RoutePlacement() if adaptive else None
        self.lanes: dict[str, ViewPool] = {}  # a thread for each route that takes turns
        self.environ = EnvironBuilder(
            port, script_name, TrustedProxies(options.trusted_proxies), options.workers > 1
        )

    def handle(self, conn: Connection, head: RequestHead, body: IO[bytes] | None, size: int) -> None:
        """Start one request (on the loop thread)."""
        body = body or empty_input()
        exchange = Exchange(self, conn, head, self.environ.build(head, body, size, conn.peer), body)
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
        self.stats.submit()
        pool.submit(exchange.run_in_thread)

    def lane(self, route: str) -> ViewPool | None:
        lane = self.lanes.get(route)
        if lane is None and len(self.lanes) < MAX_LANES:
            lane = self.lanes[route] = ViewPool(1, name="hurricane-turns")
        return lane

    def busy_threads(self) -> int:
        """View threads running a request just now (a hint, read from any thread)."""
        executor = 0 if self.executor is None else self.executor.busy()
        return executor + sum(lane.busy() for lane in list(self.lanes.values()))

    def shutdown(self) -> None:
        """After the drain: the view threads end after their current request."""
        for pool in [self.executor, *self.lanes.values()]:
            if pool is not None:
                pool.shutdown()

    def log_access(self, exchange: Exchange) -> None:
        self.stats.responded(exchange.key, exchange.status)
        if access_log.isEnabledFor(logging.INFO):
            head = exchange.head
            access_log.info(
                "%s %s %s %d", exchange.environ["REMOTE_ADDR"], head.method, head.target, exchange.status
            )


class Exchange:
    """One request and its response."""

    def __init__(
        self,
        server: WSGIServer,
        conn: Connection,
        head: RequestHead,
        environ: dict[str, Any],
        body: IO[bytes],
    ) -> None:
        self.server = server
        self.conn = conn
        self.body = body
        self.head = head
        self.environ = environ
        self.key = server.stats.begin(head.method, head.target)
        self.response = Response(head, head.keep_alive)
        self.status = 0
        self.threaded = False
        self.place = Place.THREADS  # where a thread run ran: the shared threads or its lane
        self.thread_run: Run | None = None

    @functools.cached_property
    def route(self) -> str:
        """What the placement learns by (only computed when it is on)."""
        return f"{self.head.method} {self.head.target.partition('?')[0]}"

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None and self.response.started:
            raise exc_info[1].with_traceback(exc_info[2])
        self.response.status, self.response.headers = status, headers
        return self.write

    def write(self, data: bytes) -> None:
        """PEP 3333's ``write()`` callable, for applications that push their body."""
        self.send(self.frame(data))

    def frame(self, chunk: bytes) -> bytes:
        response = self.response
        head = b"" if response.started else self.response_head(None)
        return head + response.frame(chunk)

    def response_head(self, length: int | None) -> bytes:
        if self.server.draining:
            self.response.keep_alive = False  # tell keep-alive clients to go elsewhere
        return self.response.head(length)

    def send(self, data: bytes) -> None:
        if not data:
            return
        if self.threaded:
            self.conn.write_threadsafe(data)
        else:
            self.conn.write(data)

    # -- on a pool thread -----------------------------------------------------------

    def run_in_thread(self) -> None:
        self.server.stats.started()
        self.threaded = True
        watch = None if self.server.placement is None else Stopwatch.start()
        result = self.call_app()
        if result is None:
            return
        try:
            if is_whole(result):
                body = b"".join(result)
                if watch is not None:
                    self.thread_run = watch.stop(self.server.busy_threads() + 1)  # + the loop thread
                self.conn.call_soon_threadsafe(self.send_whole, body)
            else:
                for chunk in result:
                    if chunk:
                        self.send(self.frame(chunk))
                self.send(self.frame(b"") + self.response.end())
                self.conn.call_soon_threadsafe(self.complete)
        except Exception as exc:  # noqa: BLE001 - reported, and the client gets what it can
            self.conn.call_soon_threadsafe(self.fail, exc)
        finally:
            close(result)

    # -- inline, on the loop ------------------------------------------------------

    def run_inline(self, placement: RoutePlacement | None = None) -> None:
        """Run the view on the loop thread: always with ``--threads 0``, else for a route
        ``placement`` moved inline (it learns how this run went)."""
        watch = None if placement is None else Stopwatch.start()
        result = off_loop(self.call_app)
        if result is None:
            return
        body = None
        if is_whole(result):
            try:
                body = off_loop(b"".join, result)
            except Exception as exc:  # noqa: BLE001
                self.fail(exc)
                return
            finally:
                off_loop(close, result)
        if placement is not None and watch is not None:
            run = watch.stop()
            placement.ran_in_place(self.route, run.cpu, run.wall)
        if body is None:
            asyncio.ensure_future(self.stream_inline(result))
        else:
            self.send_whole(body)

    async def stream_inline(self, result: Iterable[bytes]) -> None:
        try:
            chunks = off_loop(iter, result)
            while (chunk := off_loop(next, chunks, None)) is not None:
                if chunk:
                    self.send(self.frame(chunk))
                    await self.conn.writable()
            self.send(self.frame(b"") + self.response.end())
            self.complete()
        except Exception as exc:  # noqa: BLE001
            self.fail(exc)
        finally:
            off_loop(close, result)

    # -- either ---------------------------------------------------------------------

    def call_app(self) -> Iterable[bytes] | None:
        try:
            return self.server.app(self.environ, self.start_response)
        except Exception as exc:  # noqa: BLE001 - the client gets a 500, the log the traceback
            if self.threaded:
                self.conn.call_soon_threadsafe(self.fail, exc)
            else:
                self.fail(exc)
            return None

    def send_whole(self, body: bytes) -> None:
        """Loop thread: the whole response in one write."""
        response = self.response
        try:
            data = (b"" if response.started else self.response_head(len(body))) + response.frame(body)
        except Exception as exc:  # noqa: BLE001 - an invalid head becomes a 500, not a hang
            self.fail(exc)
            return
        self.conn.write(data + response.end())
        self.complete()

    def complete(self) -> None:
        """Loop thread: the last byte is with the transport."""
        self.status = self.response.code
        self.server.log_access(self)
        self.end()
        self.conn.finish_response(self.response.keep_alive)

    def end(self) -> None:
        self.body.close()  # a spooled body's temporary file goes now
        self.server.stats.end(self.key)
        run, placement = self.thread_run, self.server.placement
        if run is not None and placement is not None:
            if self.place is Place.SERIAL:
                placement.ran_in_place(self.route, run.cpu, run.wall)
            else:
                placement.ran_on_threads(self.route, run)

    def fail(self, exc: Exception) -> None:
        """Loop thread: the application raised, or the client went away."""
        if isinstance(exc, ConnectionError) or self.conn.state is State.CLOSED:
            self.status = 499
        else:
            log.error("the application raised on %s %s", self.head.method, self.head.target, exc_info=exc)
            self.status = 500
        self.server.log_access(self)
        self.end()
        if self.response.started or self.status == 499:
            self.conn.close()  # part of a response is out: cutting it is the only honest signal
            return
        self.response.status, self.response.headers = (
            "500 Internal Server Error",
            [("Content-Type", "text/plain")],
        )
        body = b"Internal Server Error\n"
        self.response.keep_alive = False
        self.conn.write(self.response.head(len(body)) + self.response.frame(body))
        self.conn.close()


def is_whole(result: Iterable[bytes]) -> bool:
    """Django's non-streaming responses and lists are sent in one piece, with a Content-Length."""
    return isinstance(result, (list, tuple)) or getattr(result, "streaming", None) is False


def off_loop(call: Callable[..., T], *args: Any) -> T:
    """Run application code inline, on the loop thread, as the plain synchronous caller it is.

    Django refuses database work (SynchronousOnlyOperation) and asgiref's async_to_sync
    refuses to start in a thread whose event loop is running. An inline view runs between
    two steps of the loop and cannot await anything, so the loop is hidden while it runs.
    """
    loop = asyncio._get_running_loop()
    asyncio._set_running_loop(None)
    try:
        return call(*args)
    finally:
        asyncio._set_running_loop(loop)


def close(result: Iterable[bytes]) -> None:
    method = getattr(result, "close", None)
    if method is not None:
        method()


def empty_input() -> IO[bytes]:
    return io.BytesIO(EMPTY_INPUT)
