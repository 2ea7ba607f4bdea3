"""The project's ASGI application (``settings.ASGI_APPLICATION``, Django Channels' convention)
and its lifespan, run once per worker in "auto" mode.

Hurricane serves HTTP itself (WSGI for sync views, the loop for async ones); the
ASGI application gets the WebSocket connections. Its lifespan runs before the
worker counts as ready: an application that answers ``lifespan.startup.failed``
keeps ``/startup`` failing and the worker is reported as one that cannot boot;
one that raises before answering does not speak lifespan (Django's and
Channels' routers raise for the scope type) and is served without it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("hurricane.worker")

SHUTDOWN_TIMEOUT = 10.0

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]


class LifespanFailed(Exception):
    """The application said its startup failed (``lifespan.startup.failed``)."""


def load_application() -> ASGIApp | None:
    """``settings.ASGI_APPLICATION``, imported, or None when it is not set."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    path = getattr(settings, "ASGI_APPLICATION", None)
    if not path:
        return None
    app: ASGIApp = import_string(path)
    return app


class Lifespan:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] | None = None  # given to every scope, as a copy
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.answers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        state: dict[str, Any] = {}
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": state}
        self.task = asyncio.ensure_future(self.app(scope, self.inbox.get, self.answers.put))
        self.inbox.put_nowait({"type": "lifespan.startup"})
        answer = asyncio.ensure_future(self.answers.get())
        await asyncio.wait([answer, self.task], return_when=asyncio.FIRST_COMPLETED)
        if not answer.done():
            answer.cancel()
            error = None if self.task.cancelled() else self.task.exception()
            why = f": {type(error).__name__}: {error}" if error is not None else ""
            log.info("the ASGI application does not use lifespan%s; serving without it", why)
            self.task = None
            return
        message = answer.result()
        if message["type"] == "lifespan.startup.failed":
            raise LifespanFailed(message.get("message") or "lifespan startup failed")
        self.state = state

    async def shutdown(self) -> None:
        if self.task is None or self.task.done():
            return
        self.inbox.put_nowait({"type": "lifespan.shutdown"})
        try:
            message = await asyncio.wait_for(self.answers.get(), SHUTDOWN_TIMEOUT)
        except TimeoutError:
            log.warning(
                "the ASGI application's lifespan shutdown did not answer within %.0fs", SHUTDOWN_TIMEOUT
            )
            return
        if message["type"] == "lifespan.shutdown.failed":
            log.error("the ASGI application's lifespan shutdown failed: %s", message.get("message", ""))
