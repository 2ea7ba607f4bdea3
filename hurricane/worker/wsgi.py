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
from dataclasses import dataclass
from typing import IO, Any

from hurricane.worker.access import AccessLog, request_fields
from hurricane.worker.connection import Connection, State
from hurricane.worker.inline import off_loop
from hurricane.worker.placement import Place, RoutePlacement
from hurricane.worker.request import RequestHead
from hurricane.worker.response import Response
from hurricane.worker.stats import RequestStats
from hurricane.worker.stopwatch import Run, Stopwatch

log = logging.getLogger("hurricane.worker")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
EMPTY_INPUT = b""


@dataclass
class Serving:
    """What every exchange of a worker shares."""

    app: WSGIApp
    stats: RequestStats
    placement: RoutePlacement | None
    busy_threads: Callable[[], int]  # view threads running a request now (a hint)
    access: AccessLog
    worker: int
    draining: bool = False  # responses tell keep-alive clients to go elsewhere

    def responded(self, exchange: Exchange) -> None:
        seconds = self.stats.responded(exchange.key, exchange.status)
        if self.access.enabled:
            sent = exchange.response.sent
            fields = request_fields(
                exchange.environ, exchange.head.target, exchange.status, sent, seconds, self.worker
            )
            self.access.log(fields)


class Exchange:
    """One request and its response."""

    def __init__(
        self,
        serving: Serving,
        conn: Connection,
        head: RequestHead,
        environ: dict[str, Any],
        body: IO[bytes],
    ) -> None:
        self.serving = serving
        self.conn = conn
        self.body = body
        self.head = head
        self.environ = environ
        self.key = serving.stats.begin(head.method, head.target)
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
        if self.serving.draining:
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
        self.serving.stats.started()
        self.threaded = True
        watch = (
            None if self.serving.placement is None else Stopwatch.start(process=self.place is Place.THREADS)
        )
        result = self.call_app()
        if result is None:
            return
        try:
            if is_whole(result):
                body = b"".join(result)
                if watch is not None:
                    self.thread_run = watch.stop(self.serving.busy_threads() + 1)  # + the loop thread
                self.conn.call_soon_threadsafe(self.send_whole, body)
            else:
                for chunk in result:
                    if chunk:
                        self.send(self.frame(chunk))
                self.send(self.frame(b"") + self.response.end())
                self.conn.call_soon_threadsafe(self.complete)
        except Exception as exc:  # reported, and the client gets what it can
            self.conn.call_soon_threadsafe(self.fail, exc)
        finally:
            close(result)

    # -- inline, on the loop ------------------------------------------------------

    def run_inline(self, placement: RoutePlacement | None = None) -> None:
        """Run the view on the loop thread: always with ``--threads 0``, else for a route
        ``placement`` moved inline (it learns how this run went)."""
        watch = None if placement is None else Stopwatch.start(process=False)
        result = off_loop(self.call_app)
        if result is None:
            return
        body = None
        if is_whole(result):
            try:
                body = off_loop(b"".join, result)
            except Exception as exc:
                self.fail(exc)
                return
            finally:
                off_loop(close, result)
        if placement is not None and watch is not None:
            placement.ran_in_place(self.route, watch.stop())
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
        except Exception as exc:
            self.fail(exc)
        finally:
            off_loop(close, result)

    # -- either ---------------------------------------------------------------------

    def call_app(self) -> Iterable[bytes] | None:
        try:
            return self.serving.app(self.environ, self.start_response)
        except Exception as exc:  # the client gets a 500, the log the traceback
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
        except Exception as exc:  # an invalid head becomes a 500, not a hang
            self.fail(exc)
            return
        self.conn.write(data + response.end())
        self.complete()

    def complete(self) -> None:
        """Loop thread: the last byte is with the transport."""
        self.status = self.response.code
        self.serving.responded(self)
        self.end()
        self.conn.finish_response(self.response.keep_alive)

    def end(self) -> None:
        self.body.close()  # a spooled body's temporary file goes now
        self.serving.stats.end(self.key)
        run, placement = self.thread_run, self.serving.placement
        if run is not None and placement is not None:
            if self.place is Place.SERIAL:
                placement.ran_in_place(self.route, run)
            else:
                placement.ran_on_threads(self.route, run)

    def fail(self, exc: Exception) -> None:
        """Loop thread: the application raised, or the client went away."""
        if isinstance(exc, ConnectionError) or self.conn.state is State.CLOSED:
            self.status = 499
        else:
            log.error("the application raised on %s %s", self.head.method, self.head.target, exc_info=exc)
            self.status = 500
        self.serving.responded(self)
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


def close(result: Iterable[bytes]) -> None:
    method = getattr(result, "close", None)
    if method is not None:
        method()


def empty_input() -> IO[bytes]:
    return io.BytesIO(EMPTY_INPUT)
