"""Async views run on the worker's event loop, with no thread hop per request.

Django's ASGI handler pays for every request with work on threads: the
``request_started`` and ``request_finished`` signals and ``response.close()`` go
through ``sync_to_async``, so each request starts a thread of its own (or, without
a per-request context, all of them queue for one). Hurricane resolves a request's
URL first: a coroutine view runs here, on the loop, through Django's async
middleware chain (``get_response_async``), with the signals' receivers called
inline; a plain view keeps the WSGI path (threads, or inline placement).

Synchronous work an async view does (``await Model.objects.aget()``, a sync-only
middleware) still needs a thread. Each async request borrows one from a small
pool of single-thread executors for its thread-sensitive calls (asgiref's
``ThreadSensitiveContext(executor=...)``), so such calls run in parallel across
requests, a thread is not created per request, and a thread's database
connection is reused as ``CONN_MAX_AGE`` says. A request that made no such call
never touches a thread.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from http import HTTPStatus
from typing import IO, Any

from asgiref.sync import ThreadSensitiveContext, iscoroutinefunction, sync_to_async

from hurricane.worker.connection import Connection
from hurricane.worker.inline import off_loop
from hurricane.worker.request import RequestHead
from hurricane.worker.wsgi import Exchange, Serving

log = logging.getLogger("hurricane.worker")

MAX_PATHS = 4096  # resolved paths remembered; the least recently seen one is forgotten
# asgiref 3.10 and later let a context use an executor the caller owns.
OWN_EXECUTORS = "executor" in inspect.signature(ThreadSensitiveContext).parameters


class RequestThread(ThreadPoolExecutor):
    """One thread for one async request's thread-sensitive calls at a time (started on first use)."""

    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="hurricane-async")
        self.used = False

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.used = True
        return super().submit(fn, *args, **kwargs)


class RequestThreads:
    """Idle request threads, the warmest first; at most ``keep`` are kept."""

    def __init__(self, keep: int) -> None:
        self.keep = max(1, keep)
        self.idle: list[RequestThread] = []

    def borrow(self) -> RequestThread:
        thread = self.idle.pop() if self.idle else RequestThread()
        thread.used = False
        return thread

    def give_back(self, thread: RequestThread) -> None:
        if len(self.idle) < self.keep:
            self.idle.append(thread)
        else:
            thread.shutdown(wait=False)


class AsyncViews:
    """Which paths lead to coroutine views, and the handler that runs them."""

    def __init__(self, resolver: Any, handler: Any, threads: RequestThreads) -> None:
        self.resolver = resolver
        self.handler = handler  # async_middleware.LoopHandler: Django's async middleware chain
        self.threads = threads
        self.paths: OrderedDict[str, bool] = OrderedDict()

    @classmethod
    def load(cls, threads: int) -> AsyncViews | None:
        """The project's async views, or None when its URLconf has none (nothing to route)."""
        from django.urls import get_resolver

        from hurricane.worker.async_middleware import LoopHandler

        resolver = get_resolver()
        if not any(iscoroutinefunction(view) for view in views(resolver)):
            return None
        return cls(resolver, LoopHandler(), RequestThreads(threads))

    def is_async(self, path_info: str) -> bool:
        """Whether the view for ``path_info`` (as PEP 3333 carries it) is a coroutine function."""
        known = self.paths.get(path_info)
        if known is not None:
            self.paths.move_to_end(path_info)
            return known
        from django.urls import Resolver404

        try:
            match = self.resolver.resolve(path_info.encode("latin-1").decode("utf-8", "replace"))
        except Resolver404:
            found = False  # Django's 404 comes from the WSGI path as ever
        else:
            found = iscoroutinefunction(match.func)
        self.paths[path_info] = found
        if len(self.paths) > MAX_PATHS:
            self.paths.popitem(last=False)
        return found


def views(resolver: Any) -> Iterator[Any]:
    """Every view callback in a URLconf, included ones too."""
    for pattern in resolver.url_patterns:
        if hasattr(pattern, "url_patterns"):
            yield from views(pattern)
        else:
            yield pattern.callback


class AsyncExchange(Exchange):
    """One request to a coroutine view, run as a task on the loop."""

    def __init__(
        self,
        serving: Serving,
        views: AsyncViews,
        conn: Connection,
        head: RequestHead,
        environ: dict[str, Any],
        body: IO[bytes],
    ) -> None:
        super().__init__(serving, conn, head, environ, body)
        self.views = views
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.ensure_future(self.run())
        self.conn.on_lost = self.task.cancel  # the client left: the view is cancelled, as Django does

    async def run(self) -> None:
        thread = self.views.threads.borrow()
        try:
            context = ThreadSensitiveContext(executor=thread) if OWN_EXECUTORS else ThreadSensitiveContext()
            async with context:
                await self.respond(thread)
        except asyncio.CancelledError:
            if not self.status:  # the client left before the response was complete
                self.status = 499
                self.serving.responded(self)
                self.end()
        finally:
            self.conn.on_lost = None
            self.views.threads.give_back(thread)

    async def respond(self, thread: RequestThread) -> None:
        from django.core import signals
        from django.core.handlers.asgi import ASGIHandler
        from django.urls import set_script_prefix

        handler = self.views.handler
        scope = http_scope(self.environ, self.head)
        set_script_prefix(self.environ["SCRIPT_NAME"] or "/")
        # Sync receivers (close_old_connections, reset_queries) are quick: inline, no hop.
        off_loop(signals.request_started.send, sender=ASGIHandler, scope=scope)
        request, response = handler.create_request(scope, self.body)
        try:
            if request is not None:
                response = await handler.get_response_async(request)
            response._handler_class = ASGIHandler
            await self.send_response(response)
        except Exception as exc:  # Django turns a view's exception into a 500 itself
            self.fail(exc)
        finally:
            # request_finished closes the database connections of the thread that used
            # them: the request's own thread if it had sync work, else the loop's.
            if response is not None:
                if OWN_EXECUTORS and not thread.used:
                    off_loop(response.close)
                else:
                    await sync_to_async(response.close)()

    async def send_response(self, response: Any) -> None:
        status = response.status_code
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = response.reason_phrase or "Unknown"
        self.response.status = f"{status} {phrase}"
        self.response.headers = [
            *((str(name), str(value)) for name, value in response.items()),
            *(("Set-Cookie", c.output(header="").strip()) for c in response.cookies.values()),
        ]
        if not response.streaming:
            self.send_whole(response.content)
            return
        async for chunk in aiter(response):
            if chunk:
                self.send(self.frame(chunk if isinstance(chunk, bytes) else bytes(chunk)))
                await self.conn.writable()
        self.send(self.frame(b"") + self.response.end())
        self.complete()


def http_scope(environ: dict[str, Any], head: RequestHead) -> dict[str, Any]:
    """The ASGI HTTP scope of a request, from its WSGI environ (proxy headers already applied)."""
    script_name = environ["SCRIPT_NAME"]
    path = (script_name + environ["PATH_INFO"]).encode("latin-1")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": head.version.removeprefix("HTTP/"),
        "method": head.method,
        "scheme": environ["wsgi.url_scheme"],
        "path": path.decode("utf-8", "replace"),
        "raw_path": head.target.partition("?")[0].encode("latin-1"),
        "query_string": environ["QUERY_STRING"].encode("latin-1"),
        "root_path": script_name,
        "headers": [(name.encode("latin-1"), value.encode("latin-1")) for name, value in head.headers],
        "client": (environ["REMOTE_ADDR"], int(environ["REMOTE_PORT"])),
        "server": (environ["SERVER_NAME"], int(environ["SERVER_PORT"])),
    }
