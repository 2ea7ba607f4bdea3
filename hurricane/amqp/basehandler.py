"""``TopicHandler``, as django-hurricane 1.6 users subclass it.

A subclass overrides ``on_message(channel, basic_deliver, properties, body)``,
where ``basic_deliver`` and ``properties`` are pika's own objects and ``body``
is bytes, and settles the message itself: ``self.acknowledge_message(tag)``,
``self.reject_message(tag)``, or ``self._channel.basic_ack(tag)``. Hurricane
owns the connection, calls ``on_message`` on a handler thread (so the ORM works)
and gives it a channel that is safe to use from there. What differs from 1.6 is
in docs/options.md ("Migrating from django-hurricane's consume").
"""

from __future__ import annotations

import threading
from typing import Any

# 1.6's connection life cycle, which Hurricane's consumer runs itself: a subclass
# that overrides one of these is told, once, at start-up that it is never called.
LIFECYCLE_HOOKS = (
    "connect",
    "run",
    "stop",
    "reconnect",
    "open_channel",
    "on_connection_open",
    "on_connection_open_error",
    "on_connection_closed",
    "on_channel_open",
    "add_on_channel_close_callback",
    "on_channel_closed",
    "setup_exchange",
    "on_exchange_declareok",
    "setup_queue",
    "on_queue_declareok",
    "on_bindok",
    "set_qos",
    "on_basic_qos_ok",
    "start_consuming",
    "add_on_cancel_callback",
    "on_consumer_cancelled",
    "stop_consuming",
    "on_cancelok",
    "close_channel",
    "close_connection",
)

_handling = threading.local()  # the channel of the message this thread is handling


def use_channel(channel: Any) -> None:
    """Called by the consumer on a handler thread before each ``on_message``."""
    _handling.channel = channel


class _AMQPConsumer:
    """The base of django-hurricane's handlers: its constructor, attributes and helpers."""

    EXCHANGE_TYPE: str | None = None

    def __init__(
        self,
        queue_name: str,
        exchange_name: str,
        host: str | None,
        port: int,
        vhost: str | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self._queue_name = queue_name
        self._exchange_name = exchange_name
        self._host = host
        self._port = port
        self._vhost = vhost
        self._username = username
        self._password = password
        self._prefetch_count = 1  # raise it in a subclass's __init__ to prefetch more (or --prefetch)

    @property
    def _channel(self) -> Any:
        """The channel of the message this thread handles (None outside ``on_message``)."""
        return getattr(_handling, "channel", None)

    @_channel.setter
    def _channel(self, value: Any) -> None:
        # 1.6's own code assigned it; Hurricane owns the channel, so assignments are dropped.
        pass

    def on_message(self, _unused_channel: Any, basic_deliver: Any, properties: Any, body: bytes) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement on_message()")

    def get_routing_keys(self, queue_name: str) -> list[str]:
        """The binding keys of the queue; empty binds with the queue's name."""
        return []

    def acknowledge_message(self, delivery_tag: int) -> None:
        self._channel.basic_ack(delivery_tag)

    def reject_message(self, delivery_tag: int, requeue: bool = False) -> None:
        # As in 1.6: a nack, which a dead-letter exchange receives like a reject.
        self._channel.basic_nack(delivery_tag, requeue=requeue)


class TopicHandler(_AMQPConsumer):
    """A handler bound to a topic exchange: django-hurricane's documented base class."""

    EXCHANGE_TYPE = "topic"
