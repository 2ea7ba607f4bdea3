"""From delivery to settlement: every message a consumer worker receives is settled once.

- the handler returned: ack (a TopicHandler settles its messages itself; one that
  returns without doing so is acked);
- it raised (or an async one timed out): requeue on the first delivery, reject
  (to the dead-letter exchange, if the queue has one) on a redelivery, so a poison
  message is delivered at most twice;
- it never started because the worker stops: back to the queue (nack, requeue);
- the connection closed first: nothing can be sent, the broker requeues it.

A message is acked only after its handler returned. If the connection closes
between the two, the broker delivers it again; when that redelivery carries a
``message_id`` this worker handled lately, it is acked without running the
handler a second time.

Acks go out once per turn of the event loop: one ``basic.ack(multiple)`` for
those below the oldest message still held, the others one by one. Each frame is
a system call, and a busy consumer would otherwise spend more time writing acks
than handling messages.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from hurricane.consumer.broker import BrokerSession
from hurricane.consumer.handlers import Handler
from hurricane.consumer.runners import LoopBridge, Runner, TaskRunner, ThreadRunner
from hurricane.consumer.stats import ConsumerStats
from supervisor.protocol import Outcome

log = logging.getLogger("hurricane.consumer")


@dataclass(eq=False, slots=True)
class Delivery:
    """One message this worker holds, from delivery until it is settled."""

    session: BrokerSession
    deliver: Any  # pika.spec.Basic.Deliver
    properties: Any  # pika.BasicProperties
    body: bytes
    channel: ChannelProxy  # what a TopicHandler settles it through
    started_at: float | None = None  # set by the runner, on the handler's thread
    finished_at: float | None = None
    thread: int | None = None  # the handler thread running it, for a stack dump
    outcome: Outcome | None = None

    @property
    def tag(self) -> int:
        return int(self.deliver.delivery_tag)

    @property
    def key(self) -> tuple[int, int]:
        """Delivery tags count per channel: with the session, the key is unique."""
        return self.session.number, self.tag

    @property
    def message_id(self) -> str | None:
        return self.properties.message_id or None

    @property
    def delivered_before(self) -> bool:
        """Redelivered, or counted by a quorum queue as delivered before."""
        count = (self.properties.headers or {}).get("x-delivery-count")
        return bool(self.deliver.redelivered) or (isinstance(count, int) and count >= 1)

    def describe(self) -> str:
        named = f" {self.message_id!r}" if self.message_id else ""
        return f"message{named} (tag {self.tag}, routing key {self.deliver.routing_key!r})"


def failure_outcome(delivery: Delivery) -> Outcome:
    """A handler failed: retry once, then give the message up to the dead-letter exchange."""
    return Outcome.REJECTED if delivery.delivered_before else Outcome.REQUEUED


class HandledMemory:
    """The ids of the messages handled lately (a bounded, oldest-first set)."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self.ids: OrderedDict[str, None] = OrderedDict()

    def remember(self, message_id: str) -> None:
        self.ids[message_id] = None
        self.ids.move_to_end(message_id)
        if len(self.ids) > self.size:
            self.ids.popitem(last=False)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self.ids


class ChannelProxy:
    """The channel a TopicHandler gets: the pika ``Channel`` methods handlers call, safe to
    call from the handler's thread. Settling goes through the dispatcher, so a message is
    never settled twice (which would make the broker close the channel)."""

    def __init__(self, session: BrokerSession, dispatcher: Dispatcher) -> None:
        self.session = session
        self.dispatcher = dispatcher

    def basic_ack(self, delivery_tag: int = 0, multiple: bool = False) -> None:
        self.settle(delivery_tag, Outcome.ACKED, multiple)

    def basic_nack(self, delivery_tag: int = 0, multiple: bool = False, requeue: bool = True) -> None:
        self.settle(delivery_tag, Outcome.REQUEUED if requeue else Outcome.REJECTED, multiple)

    def basic_reject(self, delivery_tag: int = 0, requeue: bool = True) -> None:
        self.settle(delivery_tag, Outcome.REQUEUED if requeue else Outcome.REJECTED, False)

    def basic_publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes | str,
        properties: Any = None,
        mandatory: bool = False,
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.dispatcher.bridge.post(self.session.publish, exchange, routing_key, data, properties, mandatory)

    @property
    def is_open(self) -> bool:
        return self.session.usable

    def settle(self, tag: int, outcome: Outcome, multiple: bool) -> None:
        if multiple:
            log.warning("consumer: multiple=True is not supported; settling delivery %d alone", tag)
        self.dispatcher.bridge.post(self.dispatcher.settle_explicitly, self.session, tag, outcome)


class Dispatcher:
    """Hands deliveries to the handler, at most ``concurrency`` at once, and settles them."""

    def __init__(
        self,
        handler: Handler,
        concurrency: int,
        handler_timeout: float | None,
        stats: ConsumerStats,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.handler = handler
        self.stats = stats
        self.bridge = LoopBridge(loop, after=self.send_acks)
        self.runner: Runner
        if handler.is_async:
            self.runner = TaskRunner(concurrency, handler.run_async, self.finished, handler_timeout)
        else:
            self.runner = ThreadRunner(concurrency, handler.run_threaded, self.finished, self.bridge)
        self.open: dict[tuple[int, int], Delivery] = {}  # received and not settled yet
        self.proxies: dict[int, ChannelProxy] = {}  # by session
        self.handled = HandledMemory()
        self.returning = False  # the worker stops: what arrives now goes straight back
        self.idle = asyncio.Event()
        self.idle.set()
        self.overdue: set[tuple[int, int]] = set()  # logged as past --handler-timeout
        self.unsettled_warned = False
        self.acks: dict[BrokerSession, list[int]] = {}  # settled as acked, not sent yet
        self.multiple_acks = True  # off once a held message must stay unacknowledged
        self.loop = loop
        stats.holding = self.holding

    def start(self) -> None:
        self.runner.start()

    # -- from the broker ------------------------------------------------------------------

    def deliver(self, session: BrokerSession, deliver: Any, properties: Any, body: bytes) -> None:
        """pika's delivery callback, on the event loop."""
        self.stats.received()
        proxy = self.proxies.get(session.number)
        if proxy is None:
            proxy = self.proxies[session.number] = ChannelProxy(session, self)
        delivery = Delivery(session, deliver, properties, body, proxy)
        if self.returning:
            self.settle(delivery, Outcome.RETURNED)
            return
        if deliver.redelivered and delivery.message_id in self.handled:
            log.info(
                "%s came back after its handler had finished (its ack was lost with the connection): "
                "acknowledged without handling it again",
                delivery.describe(),
            )
            self.settle(delivery, Outcome.ACKED)
            return
        self.open[delivery.key] = delivery
        self.idle.clear()
        self.runner.submit(delivery)

    # -- from the handler -------------------------------------------------------------------

    def finished(self, delivery: Delivery, error: BaseException | None) -> None:
        """The handler returned or raised; on the event loop, in the order they finished."""
        if delivery.started_at is not None and delivery.finished_at is not None:
            self.stats.duration.observe(delivery.finished_at - delivery.started_at)
        if delivery.outcome is not None:  # settled by the handler itself, or given up on
            if error is not None:
                log.warning(
                    "%s raised after %s was settled", self.handler, delivery.describe(), exc_info=error
                )
            return
        if error is None:
            if self.handler.settles_itself and not self.unsettled_warned:
                self.unsettled_warned = True
                log.warning(
                    "%s.on_message returned without settling %s: Hurricane acknowledges such messages",
                    self.handler,
                    delivery.describe(),
                )
            self.settle(delivery, Outcome.ACKED)
            return
        outcome = failure_outcome(delivery)
        then = "requeued once" if outcome is Outcome.REQUEUED else "delivered before: rejected"
        log.error("%s failed on %s (%s)", self.handler, delivery.describe(), then, exc_info=error)
        self.settle(delivery, outcome)

    def settle_explicitly(self, session: BrokerSession, tag: int, outcome: Outcome) -> None:
        """A TopicHandler acked, nacked or rejected a message through its channel."""
        delivery = self.open.get((session.number, tag))
        if delivery is None:
            log.warning(
                "%s settled delivery tag %d, which it does not hold (settled twice?): ignored",
                self.handler,
                tag,
            )
            return
        self.settle(delivery, outcome)

    def settle(self, delivery: Delivery, outcome: Outcome, tell: bool = True) -> None:
        """Settle once; what the broker cannot be told counts as interrupted."""
        if delivery.outcome is not None:
            return
        delivery.outcome = outcome
        self.open.pop(delivery.key, None)
        self.overdue.discard(delivery.key)
        session = delivery.session
        if tell and outcome is Outcome.ACKED and session.usable:
            if not self.acks and not self.bridge.running:  # a bridge batch sends them as it ends
                self.loop.call_soon(self.send_acks)
            self.acks.setdefault(session, []).append(delivery.tag)
            told = True
        else:
            told = tell and session.settle(delivery.tag, outcome)
        if outcome is Outcome.ACKED and delivery.message_id is not None:
            self.handled.remember(delivery.message_id)  # even if the ack is lost: it was handled
        self.stats.settled(outcome if told else Outcome.INTERRUPTED)
        if not self.open:
            self.idle.set()

    def send_acks(self) -> None:
        """Send the acks settled since the last turn of the loop. Every delivery below the
        oldest one still held is settled, so one multiple ack covers the acks below it."""
        pending, self.acks = self.acks, {}
        for session, tags in pending.items():
            held = [d.tag for d in self.open.values() if d.session is session]
            floor = min(held, default=None) if self.multiple_acks else 0
            below = [tag for tag in tags if floor is None or tag < floor]
            if below:
                session.settle(max(below), Outcome.ACKED, multiple=len(below) > 1)
            for tag in tags:
                if floor is not None and tag > floor:
                    session.settle(tag, Outcome.ACKED)

    # -- when the connection goes, and when the worker stops ------------------------------------

    def connection_lost(self, session: BrokerSession) -> None:
        """The broker requeues what this session held: messages not started yet are dropped
        here (running them now would only handle them twice)."""
        for delivery in self.runner.take_waiting():
            self.settle(delivery, Outcome.INTERRUPTED, tell=False)
        self.proxies.pop(session.number, None)

    def return_waiting(self) -> int:
        """Stopping: give back every message no handler has started; from now on, every new one."""
        self.returning = True
        waiting = self.runner.take_waiting()
        for delivery in waiting:
            self.settle(delivery, Outcome.RETURNED)
        return len(waiting)

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until every message held is settled; False if some still are not after ``timeout``."""
        try:
            await asyncio.wait_for(self.idle.wait(), max(0.0, timeout))
        except TimeoutError:
            return False
        return True

    def interrupt(self) -> int:
        """Give up on the messages still being handled: the broker requeues them when the
        connection closes. Async handlers are cancelled; threads cannot be."""
        self.send_acks()
        self.multiple_acks = False  # a multiple ack would now cover what must go back
        held = list(self.open.values())
        for delivery in held:
            self.settle(delivery, Outcome.INTERRUPTED, tell=False)
        self.runner.cancel_running()
        return len(held)

    def stop(self) -> None:
        self.runner.stop()

    # -- for the heartbeat ------------------------------------------------------------------------

    def holding(self) -> tuple[int, int, float | None]:
        """Messages running, waiting for a handler, and when the longest-running one started."""
        started = [d.started_at for d in self.open.values() if d.started_at is not None]
        return len(started), len(self.open) - len(started), min(started, default=None)

    def log_overdue(self, timeout: float) -> None:
        """Log once, with the thread's stack, each handler running past --handler-timeout."""
        now = time.monotonic()
        frames = sys._current_frames()
        for key, delivery in self.open.items():
            started = delivery.started_at
            if started is None or now - started <= timeout or key in self.overdue:
                continue
            self.overdue.add(key)
            frame = frames.get(delivery.thread) if delivery.thread is not None else None
            stack = "".join(traceback.format_stack(frame)) if frame is not None else ""
            log.error(
                "%s has handled %s for %.1fs, past --handler-timeout %gs; it cannot be interrupted, "
                "so this worker will be replaced%s",
                self.handler,
                delivery.describe(),
                now - started,
                timeout,
                f"; it is at:\n{stack}" if stack else "",
            )
