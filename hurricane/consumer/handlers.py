"""The two forms of a message handler, loaded from a dotted path and given one interface.

- a callable ``handle(message)``, plain or ``async def``: returning acks the message,
  raising requeues it once and then rejects it (``dispatch.py`` decides);
- a subclass of django-hurricane's ``TopicHandler`` with ``on_message(channel,
  basic_deliver, properties, body)``, which settles the message itself.

A plain handler runs on a thread, with Django's ``close_old_connections()`` before
and after each message, as a request does; an async one runs on the event loop.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import close_old_connections
from django.utils.module_loading import import_string

from hurricane.amqp import basehandler
from supervisor.options import Options

if TYPE_CHECKING:
    from hurricane.consumer.dispatch import Delivery

log = logging.getLogger("hurricane.consumer")


class HandlerError(Exception):
    """The handler cannot be loaded or is of no form we know; one line saying why."""


@dataclass(frozen=True, slots=True)
class Message:
    """What a plain handler gets: the message, without pika's types to learn."""

    body: bytes
    routing_key: str
    exchange: str
    headers: dict[str, Any]
    content_type: str | None
    redelivered: bool
    delivery_tag: int
    message_id: str | None
    properties: Any  # pika.BasicProperties, for everything else (reply_to, correlation_id...)

    @classmethod
    def of(cls, delivery: Delivery) -> Message:
        deliver, props = delivery.deliver, delivery.properties
        return cls(
            body=delivery.body,
            routing_key=deliver.routing_key,
            exchange=deliver.exchange,
            headers=dict(props.headers or {}),
            content_type=props.content_type,
            redelivered=bool(deliver.redelivered),
            delivery_tag=deliver.delivery_tag,
            message_id=props.message_id,
            properties=props,
        )


class PlainHandler:
    """``handle(message)``: the message is acked once it returns."""

    settles_itself = False
    exchange_type: str | None = None
    prefetch_hint = 1

    def __init__(self, function: Any) -> None:
        self.function = function
        # A coroutine function, or an object whose __call__ is one.
        self.is_async = inspect.iscoroutinefunction(function) or (
            not inspect.isroutine(function) and inspect.iscoroutinefunction(type(function).__call__)
        )
        self.loop: asyncio.AbstractEventLoop | None = None  # set by the worker, for run_threaded

    def routing_keys(self, queue: str) -> list[str]:
        return []

    def run_threaded(self, delivery: Delivery) -> None:
        close_old_connections()
        try:
            result = self.function(Message.of(delivery))
            if inspect.isawaitable(result):  # an async callable we did not recognise as one
                assert self.loop is not None
                asyncio.run_coroutine_threadsafe(_awaited(result), self.loop).result()
        finally:
            close_old_connections()

    async def run_async(self, delivery: Delivery) -> None:
        await self.function(Message.of(delivery))

    def __str__(self) -> str:
        return getattr(self.function, "__qualname__", repr(self.function))


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


class TopicHandlerAdapter:
    """A django-hurricane ``TopicHandler`` subclass: one instance, built as 1.6 built it,
    whose ``on_message`` settles each message through the channel it is given."""

    settles_itself = True
    is_async = False

    def __init__(self, klass: type[basehandler._AMQPConsumer], options: Options) -> None:
        host, port, vhost, user, password = connection_values(options)
        self.klass = klass
        # Positionally, as django-hurricane called it.
        self.instance = klass(options.queue, options.exchange, host, port, vhost, user, password)
        self.exchange_type = getattr(klass, "EXCHANGE_TYPE", None)
        hooks = [name for name in basehandler.LIFECYCLE_HOOKS if hasattr(klass, name)]
        if hooks:
            log.warning(
                "%s defines %s: Hurricane runs the connection itself and never calls %s",
                klass.__qualname__,
                ", ".join(hooks),
                "it" if len(hooks) == 1 else "them",
            )

    @property
    def prefetch_hint(self) -> int:
        """1.6 let a subclass set ``_prefetch_count``; --prefetch, when given, wins."""
        value = getattr(self.instance, "_prefetch_count", 1)
        return value if isinstance(value, int) and value > 0 else 1

    def routing_keys(self, queue: str) -> list[str]:
        return [str(key) for key in self.instance.get_routing_keys(queue) or []]

    def run_threaded(self, delivery: Delivery) -> None:
        basehandler.use_channel(delivery.channel)
        close_old_connections()
        try:
            self.instance.on_message(delivery.channel, delivery.deliver, delivery.properties, delivery.body)
        finally:
            close_old_connections()
            basehandler.use_channel(None)

    async def run_async(self, delivery: Delivery) -> None:
        raise TypeError("a TopicHandler runs on a thread")

    def __str__(self) -> str:
        return self.klass.__qualname__


Handler = PlainHandler | TopicHandlerAdapter


def load(path: str) -> Any:
    """Import what the dotted path names and check that it is a handler; HandlerError if not."""
    try:
        found = import_string(path)
    except ImportError as exc:
        raise HandlerError(f"cannot be imported: {exc}") from None
    if isinstance(found, type):
        if issubclass(found, basehandler._AMQPConsumer):
            return found
        raise HandlerError(
            "is a class but not a TopicHandler: give a function handle(message), or subclass "
            "hurricane.amqp.basehandler.TopicHandler"
        )
    if not callable(found):
        raise HandlerError("is neither a function handle(message) nor a TopicHandler subclass")
    return found


def adapt(found: Any, options: Options) -> Handler:
    if isinstance(found, type):
        return TopicHandlerAdapter(found, options)
    return PlainHandler(found)


def connection_values(options: Options) -> tuple[str | None, int, str, str | None, str | None]:
    """Host, port, vhost, user and password, as a TopicHandler's constructor takes them."""
    if options.amqp_url is None:
        return (
            options.amqp_host,
            options.amqp_port,
            options.amqp_vhost,
            options.amqp_user,
            options.amqp_password,
        )
    url = urllib.parse.urlsplit(options.amqp_url)
    default_port = 5671 if url.scheme == "amqps" else 5672
    vhost = urllib.parse.unquote(url.path[1:]) if len(url.path) > 1 else "/"
    user = urllib.parse.unquote(url.username) if url.username else options.amqp_user
    password = urllib.parse.unquote(url.password) if url.password else options.amqp_password
    return url.hostname, url.port or default_port, vhost, user, password
