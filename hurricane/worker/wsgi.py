"""Tornado's HTTP/1.1 connection driving a WSGI application, views in a thread pool.

No ``tornado.web`` and no per-request ``WSGIContainer``: one delegate per request
builds the environ, runs the app on a pool thread and writes the response back on
the event loop. Streaming responses are written chunk by chunk, each waiting for
the previous one to reach the socket, so a slow client cannot make us buffer.
"""

from __future__ import annotations

import asyncio
import io
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import Executor
from typing import Any
from urllib.parse import unquote_to_bytes

from tornado import httputil
from tornado.http1connection import HTTP1Connection
from tornado.iostream import StreamClosedError

from hurricane.worker.stats import RequestStats
from supervisor.options import Options

log = logging.getLogger("hurricane.worker")
access_log = logging.getLogger("hurricane.access")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
NO_BODY_STATUSES = {204, 304}
IDLE_AFTER_RESPONSE = 0.25
IDLE_AFTER_ACCEPT = 1.0


class Response:
    """What the app produced, handed from the view thread to the loop."""

    def __init__(self) -> None:
        self.status = "500 Internal Server Error"
        self.headers: list[tuple[str, str]] = []
        self.started = False


class WSGIServer(httputil.HTTPServerConnectionDelegate):
    """One per worker: the app, the pool and the counters every request shares."""

    def __init__(
        self, app: WSGIApp, executor: Executor, stats: RequestStats, options: Options, port: int
    ) -> None:
        self.app = app
        self.executor = executor
        self.stats = stats
        self.options = options
        self.port = str(port)
        self.draining = False
        self.busy: set[object] = set()  # connections with a request in progress
        self.opened: dict[object, float] = {}  # connection -> when it was accepted
        self.last_done: dict[object, float] = {}  # connection -> when its last response ended
        self.multiprocess = options.workers > 1

    def start_request(
        self, server_conn: object, request_conn: httputil.HTTPConnection
    ) -> httputil.HTTPMessageDelegate:
        assert isinstance(request_conn, HTTP1Connection)
        self.opened.setdefault(server_conn, time.monotonic())
        return WSGIRequest(self, server_conn, request_conn)

    def on_close(self, server_conn: object) -> None:
        self.busy.discard(server_conn)
        self.last_done.pop(server_conn, None)
        self.opened.pop(server_conn, None)

    def idle(self, server_conn: object, now: float) -> bool:
        """No request for a while: safe to close without racing a request on its way.

        A client sends its next request right after a response; one that was just
        accepted sends its first within moments. Closing sooner would cut those.
        """
        if server_conn in self.busy:
            return False
        if server_conn in self.last_done:
            return now - self.last_done[server_conn] > IDLE_AFTER_RESPONSE
        return now - self.opened.get(server_conn, now) > IDLE_AFTER_ACCEPT


class WSGIRequest(httputil.HTTPMessageDelegate):
    def __init__(self, server: WSGIServer, server_conn: object, conn: HTTP1Connection) -> None:
        self.server = server
        self.server_conn = server_conn
        self.conn = conn
        self.chunks: list[bytes] = []
        self.size = 0
        self.key: int | None = None
        self.rejected = False
        self.client_gone = False
        self.app_running = False
        self.start_line: httputil.RequestStartLine | None = None
        self.headers = httputil.HTTPHeaders()

    # -- reading -----------------------------------------------------------------

    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ) -> Awaitable[None] | None:
        assert isinstance(start_line, httputil.RequestStartLine)
        self.start_line = start_line
        self.headers = headers
        self.key = self.server.stats.begin(start_line.method, start_line.path)
        self.server.busy.add(self.server_conn)
        length = headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > self.server.options.max_body_size:
            return self.reject(413, "Payload Too Large")
        return None

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        if self.rejected:
            return None
        self.size += len(chunk)
        if self.size > self.server.options.max_body_size:
            return self.reject(413, "Payload Too Large")
        self.chunks.append(chunk)
        return None

    def finish(self) -> None:
        if self.rejected:
            return
        assert self.start_line is not None
        environ = self.environ(self.start_line)
        self.server.stats.submit()
        self.app_running = True
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.server.executor, self.call_app, environ, loop)
        future.add_done_callback(self.on_app_done)

    def on_connection_close(self) -> None:
        self.client_gone = True
        if not self.app_running:
            self.done()

    # -- the app, on a pool thread -----------------------------------------------

    def call_app(
        self, environ: dict[str, Any], loop: asyncio.AbstractEventLoop
    ) -> tuple[Response, bytes | None]:
        self.server.stats.started()
        response = Response()

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            if exc_info is not None and response.started:
                raise exc_info[1].with_traceback(exc_info[2])
            response.status, response.headers = status, headers
            return lambda data: self.stream_chunk(response, data, loop)

        result = self.server.app(environ, start_response)
        try:
            # Django's HttpResponse says streaming=False; a generator from another app streams.
            if isinstance(result, (list, tuple)) or getattr(result, "streaming", None) is False:
                return response, b"".join(result)
            for chunk in result:
                if chunk:
                    self.stream_chunk(response, chunk, loop)
            return response, None
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    def stream_chunk(self, response: Response, chunk: bytes, loop: asyncio.AbstractEventLoop) -> None:
        """Write one chunk from the view thread and wait until the socket took it."""
        if self.client_gone:
            raise ConnectionAbortedError("client disconnected")
        asyncio.run_coroutine_threadsafe(self.write_chunk(response, chunk), loop).result()

    async def write_chunk(self, response: Response, chunk: bytes) -> None:
        if not response.started:
            self.write_headers(response, None)
        if not self.no_body(response):
            await self.conn.write(chunk)

    # -- writing, on the loop ----------------------------------------------------

    def on_app_done(self, future: asyncio.Future[tuple[Response, bytes | None]]) -> None:
        self.app_running = False
        try:
            response, body = future.result()
        except Exception as exc:
            if isinstance(exc, (ConnectionAbortedError, StreamClosedError)) or self.client_gone:
                self.done()
                return
            log.exception("the application raised", exc_info=exc)
            response, body = Response(), b"Internal Server Error"
            response.headers = [("Content-Type", "text/plain")]
            if self.conn._response_start_line is not None:  # headers already sent: cut it
                self.conn.close()
                self.done()
                return
        try:
            if not response.started:
                self.write_headers(response, body)
            if body and not self.no_body(response):
                self.conn.write(body)
            self.conn.finish()
        except StreamClosedError:
            pass
        self.log_access(response)
        self.done()

    def write_headers(self, response: Response, body: bytes | None) -> None:
        response.started = True
        code, _, reason = response.status.partition(" ")
        headers = httputil.HTTPHeaders()
        for name, value in response.headers:
            headers.add(name, value)
        if body is not None and "Content-Length" not in headers and not self.no_body(response):
            headers["Content-Length"] = str(len(body))
        if self.server.draining:
            # Tell keep-alive clients to go elsewhere; the connection closes after this.
            self.conn._disconnect_on_finish = True
        start = httputil.ResponseStartLine("HTTP/1.1", int(code), reason)
        self.conn.write_headers(start, headers)

    def no_body(self, response: Response) -> bool:
        assert self.start_line is not None
        return self.start_line.method == "HEAD" or int(response.status[:3]) in NO_BODY_STATUSES

    async def reject(self, code: int, reason: str) -> None:
        self.rejected = True
        headers = httputil.HTTPHeaders({"Content-Length": "0", "Connection": "close"})
        self.conn._disconnect_on_finish = True
        try:
            self.conn.write_headers(httputil.ResponseStartLine("HTTP/1.1", code, reason), headers)
            self.conn.finish()
        except StreamClosedError:
            pass
        self.log_access(None, code)
        self.done()

    def done(self) -> None:
        if self.key is not None:
            self.server.stats.end(self.key)
            self.key = None
            self.server.busy.discard(self.server_conn)
            self.server.last_done[self.server_conn] = time.monotonic()

    def log_access(self, response: Response | None, code: int | None = None) -> None:
        status = code if code is not None else int(response.status[:3]) if response else 0
        if self.key is not None:
            self.server.stats.responded(self.key, status)
        if access_log.isEnabledFor(logging.INFO) and self.start_line is not None:
            remote = getattr(self.conn.context, "remote_ip", "-")
            access_log.info("%s %s %s %d", remote, self.start_line.method, self.start_line.path, status)

    # -- the environ -------------------------------------------------------------

    def environ(self, start_line: httputil.RequestStartLine) -> dict[str, Any]:
        path, _, query = start_line.path.partition("?")
        body = b"".join(self.chunks)
        self.chunks = []
        context = self.conn.context
        environ: dict[str, Any] = {
            "REQUEST_METHOD": start_line.method,
            "SCRIPT_NAME": "",
            # PEP 3333: the path is decoded to bytes, then carried as latin-1.
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1") or "/",
            "QUERY_STRING": query,
            "REMOTE_ADDR": getattr(context, "remote_ip", "") or "",
            "SERVER_NAME": self.headers.get("Host", "localhost").rsplit(":", 1)[0] or "localhost",
            "SERVER_PORT": self.server.port,
            "SERVER_PROTOCOL": start_line.version,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": self.server.multiprocess,
            "wsgi.run_once": False,
        }
        if not environ["PATH_INFO"].startswith("/"):
            environ["PATH_INFO"] = "/" + environ["PATH_INFO"]
        for name, value in self.headers.get_all():
            if "_" in name:
                continue  # X_Forwarded_For must not pose as X-Forwarded-For (Django does the same)
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE" or key == "CONTENT_LENGTH":
                environ[key] = value
                continue
            key = "HTTP_" + key
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        if "CONTENT_LENGTH" not in environ and body:
            environ["CONTENT_LENGTH"] = str(len(body))
        return environ
