"""The consumer's life with the broker: connect, set up, consume; after a loss, again.

Reconnecting never blocks the event loop, so heartbeats (and with them the
probes) go on meanwhile: readiness fails while the consumer is not registered,
liveness does not (a broker outage must not restart every pod). Delays between
attempts come from ``Backoff``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.parse
from collections.abc import Callable

from hurricane import event_loop
from hurricane.consumer.backoff import Backoff
from hurricane.consumer.broker import BrokerError, BrokerSession, describe_broker, describe_error, parameters
from hurricane.consumer.dispatch import Dispatcher
from hurricane.consumer.handlers import Handler
from hurricane.consumer.stats import ConsumerStats
from supervisor.options import Options

log = logging.getLogger("hurricane.consumer")

STABLE = 10.0  # a session that lasted this long resets the backoff; a shorter one does not
CLOSE_TIMEOUT = 0.5  # for the clean close at the end, within the supervisor's grace


class Consumer:
    """Keeps one consuming session with the broker, and drains it when asked to stop."""

    def __init__(
        self,
        handler: Handler,
        options: Options,
        index: int,
        stats: ConsumerStats,
        dispatcher: Dispatcher,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.handler = handler
        self.options = options
        self.stats = stats
        self.dispatcher = dispatcher
        self.on_change = on_change  # the link or the registration changed: beat now
        self.params = parameters(options, index)
        self.where = describe_broker(options)
        url_password = urllib.parse.urlsplit(options.amqp_url).password if options.amqp_url else None
        given = (options.amqp_password, url_password, urllib.parse.unquote(url_password or ""))
        self.secrets = tuple(secret for secret in given if secret)
        self.prefetch = options.prefetch or max(options.concurrency, handler.prefetch_hint)
        self.exchange_type = options.exchange_type or handler.exchange_type or "topic"
        if options.exchange_type and handler.exchange_type and options.exchange_type != handler.exchange_type:
            log.warning(
                "--exchange-type %s overrides %s.EXCHANGE_TYPE %r",
                options.exchange_type,
                handler,
                handler.exchange_type,
            )
        self.backoff = Backoff()
        self.session: BrokerSession | None = None
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.run())

    async def run(self) -> None:
        """Until cancelled by ``stop``: one session after the other."""
        connected_before = False
        while True:
            session = self.session = BrokerSession(self.params, self.dispatcher.deliver, self.secrets)
            consuming_since = None
            try:
                await session.open()
                self.stats.connected(again=connected_before)
                connected_before = True
                self.on_change()
                queue = await self.set_up(session)
                await session.consume(queue)
                self.stats.registered = True
                self.on_change()
                log.info(
                    "consuming %r from %s (prefetch %d, concurrency %d, the %s event loop)",
                    queue,
                    self.where,
                    self.prefetch,
                    self.options.concurrency,
                    event_loop.chosen(self.options),
                )
                consuming_since = time.monotonic()
                await asyncio.wait({session.ended})  # not awaited directly: a cancel must not cancel it
                why = session.ended.result()
            except BrokerError as exc:
                why = str(exc)
            except Exception as exc:  # pika refusing a call, or the handler's get_routing_keys()
                log.exception("setting up the consumer failed")
                why = session.clean(describe_error(exc))
            self.dispatcher.connection_lost(session)
            session.abort()
            if consuming_since is not None and time.monotonic() - consuming_since >= STABLE:
                self.backoff.reset()
            delay = self.backoff.next()
            self.stats.disconnected(why)
            self.on_change()
            what = "lost the broker" if consuming_since is not None else "cannot consume from the broker"
            log.warning("%s %s: %s; trying again in %.1fs", what, self.where, why, delay)
            await asyncio.sleep(delay)

    async def set_up(self, session: BrokerSession) -> str:
        """qos, then (unless --no-declare) exchange, queue and bindings; the queue's name."""
        options = self.options
        await session.set_qos(self.prefetch)
        if options.no_declare:
            return options.queue
        if options.exchange:
            await session.declare_exchange(options.exchange, self.exchange_type)
        queue = await session.declare_queue(options.queue)
        if options.exchange:
            keys = list(options.routing_key) or self.handler.routing_keys(queue) or [queue]
            for key in dict.fromkeys(keys):
                await session.bind(queue, options.exchange, key)
        return queue

    async def stop(self, timeout: float) -> None:
        """Cancel the consumer, give back what never started, let the handlers in progress
        finish within ``timeout``, then close the connection."""
        deadline = time.monotonic() + timeout
        self.dispatcher.returning = True  # anything delivered from now on goes straight back
        if self.task is not None:
            self.task.cancel()  # no new session; the current one stays open for the drain
        session = self.session
        if session is not None and session.registered:
            try:
                await session.cancel()
            except BrokerError as exc:
                log.info("cancelling the consumer: %s", exc)
        self.stats.registered = False
        returned = self.dispatcher.return_waiting()
        running = self.stats.holding()[0]
        if returned or running:
            log.info("stopping: %d message(s) given back to the queue, %d being handled", returned, running)
        if not await self.dispatcher.wait_idle(deadline - time.monotonic()):
            left = self.dispatcher.interrupt()
            log.warning(
                "%d message(s) still being handled at the graceful timeout: the broker requeues them", left
            )
        if self.task is not None:
            await asyncio.wait({self.task})
        self.dispatcher.send_acks()  # before the channel closes
        if session is not None:
            await session.close(CLOSE_TIMEOUT)
        self.dispatcher.stop()
        self.stats.closed()
