"""One connection and channel to the broker: pika's callbacks turned into awaitables.

pika's ``AsyncioConnection`` runs on the worker's own event loop, so AMQP heartbeats
and deliveries never wait for a handler (handlers run on threads or as tasks).
Every wait here also ends when the session does (connection or channel closed,
consumer cancelled by the broker), so nothing hangs on a reply that will not come.
A session is used once: after a loss the consumer opens a new one.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import urllib.parse
from collections.abc import Callable
from typing import Any

import pika
import pika.exceptions
from pika.adapters.asyncio_connection import AsyncioConnection
from pika.adapters.utils.connection_workflow import AMQPConnectionWorkflowFailed

from supervisor.options import Options, mask_url
from supervisor.protocol import Outcome

log = logging.getLogger("hurricane.consumer")

TIMEOUT = 30.0  # for any one reply of a healthy broker, which takes milliseconds
Deliver = Callable[["BrokerSession", Any, Any, bytes], None]
_numbers = itertools.count(1)


class BrokerError(Exception):
    """The session could not be set up or ended; the message is one line without secrets."""


def parameters(options: Options, index: int) -> pika.ConnectionParameters:
    """pika's connection parameters from --amqp-url, or --amqp-host/-port/-vhost and the
    credentials of HURRICANE_AMQP_USER/PASSWORD (django-hurricane's AMQP_USER/PASSWORD)."""
    if options.amqp_url is not None:
        params = pika.URLParameters(options.amqp_url)
        if urllib.parse.urlsplit(options.amqp_url).username is None and options.amqp_user:
            params.credentials = pika.PlainCredentials(options.amqp_user, options.amqp_password or "")
    else:
        params = pika.ConnectionParameters(options.amqp_host, options.amqp_port, options.amqp_vhost)
        if options.amqp_user:
            params.credentials = pika.PlainCredentials(options.amqp_user, options.amqp_password or "")
    # Shown in the broker's connection list, so an operator can tell the workers apart.
    params.client_properties = {"connection_name": f"hurricane consumer {index} on {socket.gethostname()}"}
    return params


def describe_broker(options: Options) -> str:
    """Where the broker is, for log lines: never with a password."""
    if options.amqp_url is not None:
        return mask_url(options.amqp_url.split("?")[0])
    return f"amqp://{options.amqp_host}:{options.amqp_port}/{urllib.parse.quote(options.amqp_vhost, safe='')}"


def describe_error(exc: BaseException | str | None) -> str:
    """One line for a pika exception: the innermost cause, which is the one that helps."""
    if exc is None:
        return "closed"
    if isinstance(exc, str):
        return exc
    if isinstance(exc, AMQPConnectionWorkflowFailed) and exc.exceptions:
        return describe_error(exc.exceptions[-1])
    # pika wraps the socket's error in a connector error, in a workflow error, in a connection error
    inner = getattr(exc, "exception", None) or (exc.args[0] if exc.args else None)
    if isinstance(inner, BaseException):
        return describe_error(inner)
    if isinstance(exc, pika.exceptions.ConnectionClosed | pika.exceptions.ChannelClosed):
        return f"{exc.reply_code} {exc.reply_text}"
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return " ".join(text.split())


def settle(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


class BrokerSession:
    """A connection with one channel: open it, set it up, consume, settle, close."""

    def __init__(
        self, params: pika.ConnectionParameters, deliver: Deliver, secrets: tuple[str, ...] = ()
    ) -> None:
        self.params = params
        self.deliver = deliver
        self.secrets = tuple(s for s in secrets if s)  # scrubbed from every reason, to be sure
        self.number = next(_numbers)
        self.loop = asyncio.get_running_loop()
        self.connection: Any = None
        self.channel: Any = None
        self.consumer_tag: str | None = None
        self.registered = False
        self.closing = False  # we close it: the close callbacks are expected
        self.ended: asyncio.Future[str] = self.loop.create_future()  # why the session ended

    # -- opening and setting up --------------------------------------------------------

    async def open(self) -> None:
        opened: asyncio.Future[Any] = self.loop.create_future()

        def failed(_connection: Any, exc: BaseException) -> None:
            if not opened.done():
                opened.set_exception(BrokerError(self.clean(describe_error(exc))))

        self.connection = AsyncioConnection(
            self.params,
            on_open_callback=lambda conn: settle(opened, conn),
            on_open_error_callback=failed,
            on_close_callback=self.on_connection_closed,
            custom_ioloop=self.loop,
        )
        await self.wait(opened, "connecting")
        channel: asyncio.Future[Any] = self.loop.create_future()
        self.connection.channel(on_open_callback=lambda opened_channel: settle(channel, opened_channel))
        self.channel = await self.wait(channel, "opening a channel")
        self.channel.add_on_close_callback(self.on_channel_closed)
        self.channel.add_on_cancel_callback(self.on_cancelled)

    async def set_qos(self, prefetch: int) -> None:
        await self.rpc("basic.qos", self.channel.basic_qos, prefetch_count=prefetch)

    async def declare_exchange(self, name: str, kind: str) -> None:
        await self.rpc("exchange.declare", self.channel.exchange_declare, exchange=name, exchange_type=kind)

    async def declare_queue(self, name: str) -> str:
        """Declare the queue (as django-hurricane did: not durable); its name comes back.
        A server-named queue belongs to this connection alone and goes with it."""
        frame = await self.rpc("queue.declare", self.channel.queue_declare, queue=name, exclusive=not name)
        return str(frame.method.queue)

    async def bind(self, queue: str, exchange: str, key: str) -> None:
        await self.rpc("queue.bind", self.channel.queue_bind, queue=queue, exchange=exchange, routing_key=key)

    async def consume(self, queue: str) -> None:
        """Start consuming with manual acks; returns once the broker confirmed (consume-ok)."""
        confirmed: asyncio.Future[Any] = self.loop.create_future()
        self.consumer_tag = self.channel.basic_consume(
            queue, self.on_message, callback=lambda frame: settle(confirmed, frame)
        )
        await self.wait(confirmed, "basic.consume")
        self.registered = True

    async def cancel(self) -> None:
        """Stop the deliveries (basic.cancel, until cancel-ok); what is held stays ours to settle."""
        if not self.registered or not self.usable:
            return
        self.registered = False
        await self.rpc("basic.cancel", self.channel.basic_cancel, self.consumer_tag)

    # -- waiting ---------------------------------------------------------------------------

    async def rpc(self, what: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        reply: asyncio.Future[Any] = self.loop.create_future()
        method(*args, callback=lambda frame: settle(reply, frame), **kwargs)
        return await self.wait(reply, what)

    async def wait(self, future: asyncio.Future[Any], what: str, timeout: float = TIMEOUT) -> Any:
        """``future``'s result; BrokerError if the session ends first or the broker is silent."""
        done, _ = await asyncio.wait(
            {future, self.ended}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if future in done:
            return future.result()
        future.cancel()
        if self.ended.done():
            raise BrokerError(self.ended.result())
        raise BrokerError(f"no answer to {what} within {timeout:.0f}s")

    # -- what pika calls back -----------------------------------------------------------

    def on_message(self, _channel: Any, deliver: Any, properties: Any, body: bytes) -> None:
        self.deliver(self, deliver, properties, body)

    def on_connection_closed(self, _connection: Any, reason: BaseException) -> None:
        self.end(describe_error(reason) if not self.closing else "closed")

    def on_channel_closed(self, _channel: Any, reason: BaseException) -> None:
        if self.closing:
            return
        if isinstance(reason, pika.exceptions.ChannelClosed):
            # A channel error (a declare refused, a queue missing): start over on a new connection.
            self.end(f"channel closed: {describe_error(reason)}")
        else:  # it went with the connection
            self.end(describe_error(reason))
        self.abort()

    def on_cancelled(self, _frame: Any) -> None:
        self.end("the broker cancelled the consumer (was the queue deleted?)")
        self.abort()

    def end(self, why: str) -> None:
        self.registered = False
        if not self.ended.done():
            self.ended.set_result(self.clean(why))

    # -- settling and publishing ------------------------------------------------------------

    @property
    def usable(self) -> bool:
        return not self.ended.done() and self.channel is not None and self.channel.is_open

    def settle(self, tag: int, outcome: Outcome, multiple: bool = False) -> bool:
        """Tell the broker; False if it cannot be told (the broker requeues the message itself).
        ``multiple``: ack every delivery up to ``tag`` not settled yet, in one frame."""
        if not self.usable:
            return False
        try:
            if outcome is Outcome.ACKED:
                self.channel.basic_ack(tag, multiple=multiple)
            elif outcome is Outcome.REJECTED:
                self.channel.basic_reject(tag, requeue=False)
            else:
                self.channel.basic_nack(tag, requeue=True)
        except pika.exceptions.AMQPError as exc:
            log.debug("cannot settle delivery %d: %s", tag, describe_error(exc))
            return False
        return True

    def publish(self, exchange: str, routing_key: str, body: bytes, properties: Any, mandatory: bool) -> None:
        if not self.usable:
            log.warning("a handler's message to %r was not published: the channel is closed", exchange)
            return
        self.channel.basic_publish(exchange, routing_key, body, properties, mandatory)

    # -- closing ---------------------------------------------------------------------------

    async def close(self, timeout: float = 5.0) -> None:
        """Close the connection cleanly (channels first), waiting at most ``timeout``."""
        self.abort()
        if self.connection is not None and not self.ended.done():
            await asyncio.wait({self.ended}, timeout=timeout)
        self.end("closed")

    def abort(self) -> None:
        """Start closing the connection, without waiting (after a channel error, a lost session)."""
        self.closing = True
        if self.connection is not None and not (self.connection.is_closed or self.connection.is_closing):
            try:
                self.connection.close()
            except pika.exceptions.AMQPError:  # still opening: pika refuses, the socket goes with us
                pass

    def clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text
