"""Django's async request handling, with middleware hooks inline on the loop while they are quick.

In async mode Django runs every ``MiddlewareMixin`` hook (``process_request``,
``process_response``, ``process_view``...) through ``sync_to_async``: two thread
hops per middleware per request, which is most of what an async view costs
under an ASGI server. The hooks of Django's own middleware take microseconds,
so here they run inline, with the loop hidden from them (``inline.off_loop``),
and only a hook seen taking longer than the interpreter's switch interval (one
that waits on a database, say) is sent to a thread, for good, and logged.

Only leaf hooks are inlined. A middleware that wraps the rest of the chain
synchronously (sync-only, not a ``MiddlewareMixin``) keeps Django's adaptation:
called inline, its ``async_to_sync`` would run the view on another event loop.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response
from django.utils.deprecation import MiddlewareMixin
from django.utils.module_loading import import_string

from hurricane.worker.inline import off_loop

log = logging.getLogger("hurricane.worker")

Hook = Callable[..., Any]
AsyncHook = Callable[..., Awaitable[Any]]
INLINE_HOOKS = ("process_view", "process_template_response")


class InlineHooks:
    """Runs synchronous middleware hooks inline, until one proves slow."""

    def __init__(self, slow: float | None = None) -> None:
        self.slow = slow if slow is not None else sys.getswitchinterval()
        self.threaded: set[str] = set()

    def wrap(self, hook: Hook) -> AsyncHook:
        name = f"{type(getattr(hook, '__self__', hook)).__qualname__}.{getattr(hook, '__name__', 'hook')}"
        on_thread = sync_to_async(hook, thread_sensitive=True)

        async def run(*args: Any) -> Any:
            if name in self.threaded:
                return await on_thread(*args)
            started = time.perf_counter()
            try:
                return off_loop(hook, *args)
            finally:
                took = time.perf_counter() - started
                if took > self.slow:
                    self.threaded.add(name)
                    log.info("%s took %.1f ms inline: it runs on a thread from now on", name, took * 1000)

        return run


class MixinHooks:
    """A ``MiddlewareMixin`` in the async chain: its hooks through ``InlineHooks``, the rest awaited."""

    def __init__(self, middleware: MiddlewareMixin, hooks: InlineHooks) -> None:
        self.middleware = middleware
        self.get_response: AsyncHook = middleware.get_response
        self.process_request = (
            hooks.wrap(middleware.process_request) if hasattr(middleware, "process_request") else None
        )
        self.process_response = (
            hooks.wrap(middleware.process_response) if hasattr(middleware, "process_response") else None
        )

    async def __call__(self, request: Any) -> Any:
        response = None
        if self.process_request is not None:
            response = await self.process_request(request)
        response = response or await self.get_response(request)
        if self.process_response is not None:
            response = await self.process_response(request, response)
        return response


def is_plain_mixin(middleware: Any) -> bool:
    """A MiddlewareMixin that leaves calling its hooks to the mixin."""
    cls = type(middleware)
    return (
        isinstance(middleware, MiddlewareMixin)
        and cls.__call__ is MiddlewareMixin.__call__
        and getattr(cls, "_MiddlewareMixin__acall__", None)
        is getattr(MiddlewareMixin, "_MiddlewareMixin__acall__", None)
    )


class LoopHandler(ASGIHandler):  # type: ignore[misc]
    """The handler async views run through (``get_response_async``), middleware loaded for the loop."""

    def __init__(self) -> None:
        self.hooks = InlineHooks()
        super().__init__()

    def adapt_method_mode(
        self,
        is_async: bool,
        method: Any,
        method_is_async: bool | None = None,
        debug: bool = False,
        name: str | None = None,
    ) -> Any:
        quick = getattr(method, "__name__", "") in INLINE_HOOKS
        if is_async and quick and not iscoroutinefunction(method):
            return self.hooks.wrap(method)
        return super().adapt_method_mode(is_async, method, method_is_async, debug, name)

    def load_middleware(self, is_async: bool = False) -> None:
        """Django's own loading, but a plain MiddlewareMixin is wrapped in MixinHooks."""
        if not is_async:
            super().load_middleware(is_async)
            return
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        handler = convert_exception_to_response(self._get_response_async)
        handler_is_async = True
        for path in reversed(settings.MIDDLEWARE):
            middleware = import_string(path)
            can_sync = getattr(middleware, "sync_capable", True)
            can_async = getattr(middleware, "async_capable", False)
            if not can_sync and not can_async:
                raise RuntimeError(
                    f"Middleware {path} must have at least one of sync_capable/async_capable set to True."
                )
            is_async_mw = can_async if handler_is_async or not can_sync else False
            try:
                adapted = self.adapt_method_mode(
                    is_async_mw, handler, handler_is_async, settings.DEBUG, f"middleware {path}"
                )
                instance = middleware(adapted)
            except MiddlewareNotUsed:
                continue
            if instance is None:
                raise ImproperlyConfigured(f"Middleware factory {path} returned None.")
            self.collect_hooks(instance)
            if is_async_mw and is_plain_mixin(instance):
                instance = MixinHooks(instance, self.hooks)
            handler = convert_exception_to_response(instance)
            handler_is_async = is_async_mw
        self._middleware_chain = self.adapt_method_mode(True, handler, handler_is_async)

    def collect_hooks(self, instance: Any) -> None:
        if hasattr(instance, "process_view"):
            self._view_middleware.insert(0, self.adapt_method_mode(True, instance.process_view))
        if hasattr(instance, "process_template_response"):
            self._template_response_middleware.append(
                self.adapt_method_mode(True, instance.process_template_response)
            )
        if hasattr(instance, "process_exception"):
            # Django's exception stack is synchronous in both modes.
            self._exception_middleware.append(self.adapt_method_mode(False, instance.process_exception))
