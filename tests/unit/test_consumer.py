"""The consumer worker's parts without a broker: how each message is settled, the handler
forms, the heartbeat's consumer state, the reconnect backoff."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
from types import SimpleNamespace

import pika
import pytest

from hurricane.amqp.basehandler import TopicHandler
from hurricane.consumer.backoff import Backoff
from hurricane.consumer.dispatch import Dispatcher, HandledMemory
from hurricane.consumer.handlers import HandlerError, Message, PlainHandler, TopicHandlerAdapter, load
from hurricane.consumer.stats import ConsumerStats
from hurricane.worker.heartbeat import HeartbeatSender, fit
from supervisor import protocol
from supervisor.options import resolve
from supervisor.protocol import BrokerLink, Heartbeat, Outcome
from supervisor.wire import from_wire

pytestmark = pytest.mark.timeout(30)


SESSIONS: list[FakeSession] = []


class FakeSession:
    """Stands in for BrokerSession, and for the broker's view of its channel: what each
    delivery was settled as, how many frames that took, and no delivery settled twice."""

    def __init__(self, number: int = 1) -> None:
        SESSIONS.append(self)
        self.settled_twice: list[int] = []
        self.number = number
        self.usable = True
        self.outstanding: set[int] = set()  # delivered, not settled
        self.sent: list[tuple[int, Outcome]] = []
        self.frames = 0
        self.published: list[tuple] = []

    def settle(self, tag: int, outcome: Outcome, multiple: bool = False) -> bool:
        if not self.usable:
            return False
        self.frames += 1
        for settled in sorted(t for t in self.outstanding if t <= tag) if multiple else [tag]:
            if settled not in self.outstanding:
                # Not an assert: the dispatcher settles from loop callbacks, which only log.
                self.settled_twice.append(settled)
                continue
            self.outstanding.discard(settled)
            self.sent.append((settled, outcome))
        return True

    def publish(self, *args) -> None:
        self.published.append(args)


@pytest.fixture(autouse=True)
def no_delivery_settled_twice():
    SESSIONS.clear()
    yield
    twice = {session.number: session.settled_twice for session in SESSIONS if session.settled_twice}
    assert not twice, f"deliveries settled twice (the broker closes the channel): {twice}"


async def until(condition, timeout: float = 5.0) -> None:
    """Poll ``condition`` on the loop while the handler threads move on."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


class Handler:
    """A plain, synchronous handler whose behaviour each test sets."""

    settles_itself = False
    is_async = False
    exchange_type = None
    prefetch_hint = 1

    def __init__(self, behave=lambda delivery: None) -> None:
        self.behave = behave
        self.seen: list[tuple[int, bool]] = []

    def run_threaded(self, delivery) -> None:
        self.seen.append((delivery.tag, bool(delivery.deliver.redelivered)))
        self.behave(delivery)

    async def run_async(self, delivery) -> None:
        self.seen.append((delivery.tag, bool(delivery.deliver.redelivered)))
        await self.behave(delivery)

    def __str__(self) -> str:
        return "handler"


def deliver(dispatcher, session, tag, redelivered=False, message_id=None, headers=None):
    method = pika.spec.Basic.Deliver(delivery_tag=tag, redelivered=redelivered, routing_key="k", exchange="x")
    properties = pika.BasicProperties(message_id=message_id, headers=headers)
    session.outstanding.add(tag)
    dispatcher.deliver(session, method, properties, b"{}")


def run(test, handler, concurrency=1, timeout=None):
    """Run ``test(dispatcher, stats)`` on an event loop, with a started dispatcher."""

    async def main():
        stats = ConsumerStats()
        dispatcher = Dispatcher(handler, concurrency, timeout, stats, asyncio.get_running_loop())
        dispatcher.start()
        try:
            return await test(dispatcher, stats)
        finally:
            dispatcher.stop()

    return asyncio.run(main())


def fail_first(delivery):
    if not delivery.deliver.redelivered:
        raise ValueError("boom")


def test_returning_acks_raising_requeues_once_then_rejects():
    session = FakeSession()

    def poison(delivery):
        raise ValueError("poison")

    async def test(dispatcher, stats):
        deliver(dispatcher, session, 1)
        deliver(dispatcher, session, 2, redelivered=True)
        deliver(dispatcher, session, 3, headers={"x-delivery-count": 1})  # a quorum queue's count
        assert await dispatcher.wait_idle(5)
        return stats

    stats = run(test, Handler(poison))
    assert session.sent == [(1, Outcome.REQUEUED), (2, Outcome.REJECTED), (3, Outcome.REJECTED)]
    assert stats.counts().outcomes == {"requeued": 1, "rejected": 2}
    assert stats.counts().duration.buckets[-1] == 3  # every run was timed


def test_an_ack_is_sent_only_after_the_handler_returned():
    session = FakeSession()
    release = threading.Event()
    handler = Handler(lambda delivery: release.wait(5))

    async def test(dispatcher, stats):
        deliver(dispatcher, session, 1)
        await until(lambda: stats.state().in_flight == 1)
        assert session.sent == [] and stats.state().in_flight == 1
        release.set()
        assert await dispatcher.wait_idle(5)

    run(test, handler)
    assert session.sent == [(1, Outcome.ACKED)]


@pytest.mark.parametrize(("held", "frames"), [(None, 1), (3, 1 + 5 + 1)])
def test_acks_go_out_together_below_the_oldest_message_still_held(held, frames):
    """Async handlers that finish in one turn of the loop: one multiple ack for the acks
    below a message still running, one frame each above it, none ever covering it."""
    session = FakeSession()
    together, later = asyncio.Event(), asyncio.Event()

    async def work(delivery):
        await (later if delivery.tag == held else together).wait()

    handler = Handler(work)
    handler.is_async = True

    async def test(dispatcher, stats):
        for tag in range(1, 9):
            deliver(dispatcher, session, tag)
        together.set()
        while len(session.sent) < (8 if held is None else 7):
            await asyncio.sleep(0.01)
        assert session.outstanding == ({held} if held else set())
        later.set()
        assert await dispatcher.wait_idle(5)
        await asyncio.sleep(0)  # the last ack goes out at the end of this turn

    run(test, handler, concurrency=8)
    assert sorted(session.sent) == [(tag, Outcome.ACKED) for tag in range(1, 9)]
    assert session.frames == frames


def test_messages_given_up_at_the_graceful_timeout_are_never_covered_by_a_multiple_ack():
    session = FakeSession()
    release = threading.Event()

    async def test(dispatcher, stats):
        deliver(dispatcher, session, 1)
        await until(lambda: stats.state().in_flight == 1)
        assert dispatcher.interrupt() == 1
        deliver(dispatcher, session, 2)  # handled and acked after the give-up, before the close
        deliver(dispatcher, session, 3)
        release.set()
        await asyncio.sleep(0.1)
        dispatcher.send_acks()

    run(test, Handler(lambda delivery: delivery.tag == 1 and release.wait(5)), concurrency=2)
    assert session.outstanding == {1}, "the broker requeues it when the connection closes"


def test_a_redelivery_of_a_message_handled_before_is_acked_without_handling_it_again():
    old, new = FakeSession(1), FakeSession(2)
    old.usable = False  # the connection went before the ack could be sent
    handler = Handler()

    async def test(dispatcher, stats):
        deliver(dispatcher, old, 7, message_id="m7")
        assert await dispatcher.wait_idle(5)
        deliver(dispatcher, new, 1, redelivered=True, message_id="m7")
        deliver(dispatcher, new, 2, redelivered=True, message_id="m8")  # not handled here before
        assert await dispatcher.wait_idle(5)
        return stats

    stats = run(test, handler)
    assert handler.seen == [(7, False), (2, True)]
    assert new.sent == [(1, Outcome.ACKED), (2, Outcome.ACKED)]
    assert stats.counts().outcomes == {"interrupted": 1, "acked": 2}


def test_failures_are_not_remembered_so_their_redelivery_runs_again():
    session = FakeSession()
    handler = Handler(fail_first)

    async def test(dispatcher, stats):
        deliver(dispatcher, session, 1, message_id="m1")
        assert await dispatcher.wait_idle(5)
        deliver(dispatcher, session, 2, redelivered=True, message_id="m1")
        assert await dispatcher.wait_idle(5)

    run(test, handler)
    assert handler.seen == [(1, False), (2, True)]
    assert session.sent == [(1, Outcome.REQUEUED), (2, Outcome.ACKED)]


def test_stopping_returns_what_never_started_and_lets_the_running_handler_finish():
    session = FakeSession()
    release = threading.Event()
    handler = Handler(lambda delivery: release.wait(5))

    async def test(dispatcher, stats):
        for tag in (1, 2, 3):
            deliver(dispatcher, session, tag)
        await until(lambda: stats.state().in_flight == 1)
        assert stats.state().in_flight == 1 and stats.state().prefetched == 2
        assert dispatcher.return_waiting() == 2
        deliver(dispatcher, session, 4)  # arrived before the cancel took effect
        release.set()
        assert await dispatcher.wait_idle(5)
        return stats

    stats = run(test, handler)
    assert handler.seen == [(1, False)]
    assert sorted(session.sent) == [
        (1, Outcome.ACKED),
        (2, Outcome.RETURNED),
        (3, Outcome.RETURNED),
        (4, Outcome.RETURNED),
    ]
    assert stats.handled == 1


def test_a_lost_connection_drops_what_never_started():
    session = FakeSession()
    release = threading.Event()
    handler = Handler(lambda delivery: release.wait(5))

    async def test(dispatcher, stats):
        deliver(dispatcher, session, 1)
        deliver(dispatcher, session, 2)
        await until(lambda: stats.state().in_flight == 1)
        session.usable = False
        dispatcher.connection_lost(session)
        release.set()
        assert await dispatcher.wait_idle(5)
        return stats

    stats = run(test, handler)
    assert handler.seen == [(1, False)]  # the broker redelivers 2: running it now would be a duplicate
    assert session.sent == [] and stats.counts().outcomes == {"interrupted": 2}


def test_the_graceful_timeout_gives_up_on_running_handlers_without_telling_the_broker():
    session = FakeSession()
    release = threading.Event()

    async def test(dispatcher, stats):
        deliver(dispatcher, session, 1)
        assert not await dispatcher.wait_idle(0.1)
        assert dispatcher.interrupt() == 1
        release.set()
        return stats

    stats = run(test, Handler(lambda delivery: release.wait(5)))
    assert session.sent == [] and stats.counts().outcomes == {"interrupted": 1}


def test_concurrency_bounds_the_threads_and_the_heartbeat_counts_what_is_held():
    session = FakeSession()
    running, most, lock, release = [0], [0], threading.Lock(), threading.Event()

    def work(delivery):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        release.wait(5)
        with lock:
            running[0] -= 1

    async def test(dispatcher, stats):
        for tag in range(1, 11):
            deliver(dispatcher, session, tag)
        while stats.state().in_flight < 3:
            await asyncio.sleep(0.01)
        state = stats.state()
        assert (state.in_flight, state.prefetched) == (3, 7) and state.since_message_s is not None
        release.set()
        assert await dispatcher.wait_idle(5)

    run(test, Handler(work), concurrency=3)
    assert most[0] == 3 and len(session.sent) == 10


def test_async_handlers_run_as_tasks_and_time_out():
    session = FakeSession()
    active, most = [0], [0]

    async def work(delivery):
        active[0] += 1
        most[0] = max(most[0], active[0])
        try:
            await asyncio.sleep(10 if delivery.tag == 1 else 0.05)
        finally:
            active[0] -= 1

    handler = Handler(work)
    handler.is_async = True

    async def test(dispatcher, stats):
        for tag in range(1, 6):
            deliver(dispatcher, session, tag)
        assert await dispatcher.wait_idle(5)

    run(test, handler, concurrency=2, timeout=0.3)
    assert most[0] == 2
    assert dict(session.sent) == {
        1: Outcome.REQUEUED,
        2: Outcome.ACKED,
        3: Outcome.ACKED,
        4: Outcome.ACKED,
        5: Outcome.ACKED,
    }


class Orders(TopicHandler):
    EXCHANGE_TYPE = "direct"

    def __init__(self, *args):
        super().__init__(*args)
        self._prefetch_count = 10
        self.args = args

    def get_routing_keys(self, queue_name):
        return [f"{queue_name}.created"]

    def on_message(self, _unused_channel, basic_deliver, properties, body):
        task = json.loads(body)
        for action in task:
            if action == "ack":
                self.acknowledge_message(basic_deliver.delivery_tag)
            elif action == "reject":
                self.reject_message(basic_deliver.delivery_tag)
            elif action == "channel-ack":
                self._channel.basic_ack(basic_deliver.delivery_tag)
            elif action == "publish":
                self._channel.basic_publish("x", "reply", b"done")
            elif action == "raise":
                raise RuntimeError("boom")


class TopicAdapter(TopicHandlerAdapter):
    """The adapter without Django's close_old_connections (no database configured here)."""

    def run_threaded(self, delivery):
        from hurricane.amqp import basehandler

        basehandler.use_channel(delivery.channel)
        try:
            self.instance.on_message(delivery.channel, delivery.deliver, delivery.properties, delivery.body)
        finally:
            basehandler.use_channel(None)


def topic_adapter():
    options = resolve(
        {"handler": "a.b", "queue": "q", "exchange": "shop", "amqp_url": "amqp://u:p@mq:5673/v"},
        command="consume",
    )
    return TopicAdapter(Orders, options)


def test_a_topic_handler_is_built_as_django_hurricane_built_it():
    adapter = topic_adapter()
    assert adapter.instance.args == ("q", "shop", "mq", 5673, "v", "u", "p")
    assert adapter.exchange_type == "direct" and adapter.prefetch_hint == 10
    assert adapter.routing_keys("q") == ["q.created"]


@pytest.mark.parametrize(
    ("actions", "sent"),
    [
        (["ack"], [(1, Outcome.ACKED)]),
        (["channel-ack", "ack"], [(1, Outcome.ACKED)]),  # the second is ignored: no channel error
        (["reject"], [(1, Outcome.REJECTED)]),
        ([], [(1, Outcome.ACKED)]),  # returned without settling: acked
        (["raise"], [(1, Outcome.REQUEUED)]),
        (["ack", "raise"], [(1, Outcome.ACKED)]),
    ],
)
def test_a_topic_handler_settles_through_its_channel(actions, sent):
    session = FakeSession()
    adapter = topic_adapter()

    async def test(dispatcher, stats):
        method = pika.spec.Basic.Deliver(
            delivery_tag=1, redelivered=False, routing_key="q.created", exchange="shop"
        )
        session.outstanding.add(1)
        dispatcher.deliver(session, method, pika.BasicProperties(), json.dumps(actions).encode())
        assert await dispatcher.wait_idle(5)
        await asyncio.sleep(0.05)  # a second, ignored settlement would arrive by now

    run(test, adapter)
    assert session.sent == sent


def test_a_topic_handler_publishes_through_the_event_loop():
    session = FakeSession()

    async def test(dispatcher, stats):
        method = pika.spec.Basic.Deliver(delivery_tag=1, redelivered=False, routing_key="k", exchange="shop")
        session.outstanding.add(1)
        dispatcher.deliver(session, method, pika.BasicProperties(), b'["publish", "ack"]')
        assert await dispatcher.wait_idle(5)

    run(test, topic_adapter())
    assert session.published == [("x", "reply", b"done", None, False)]


def test_a_topic_handler_overriding_the_connection_life_cycle_is_warned_about(caplog):
    class Old(TopicHandler):
        def on_channel_open(self, channel):
            pass

    options = resolve({"handler": "a.b", "queue": "q", "amqp_host": "mq"}, command="consume")
    with caplog.at_level(logging.WARNING, "hurricane.consumer"):
        TopicHandlerAdapter(Old, options)
    assert "defines on_channel_open" in caplog.text


def test_plain_handlers_sync_or_async():
    async def coroutine(message):
        pass

    class Callable:
        async def __call__(self, message):
            pass

    assert not PlainHandler(lambda message: None).is_async
    assert PlainHandler(coroutine).is_async
    assert PlainHandler(Callable()).is_async


def test_the_message_a_plain_handler_gets():
    method = pika.spec.Basic.Deliver(delivery_tag=4, redelivered=True, routing_key="a.b", exchange="x")
    properties = pika.BasicProperties(content_type="application/json", headers={"h": 1}, message_id="m1")
    message = Message.of(SimpleNamespace(deliver=method, properties=properties, body=b"{}"))
    assert (message.body, message.routing_key, message.exchange) == (b"{}", "a.b", "x")
    assert (message.headers, message.content_type, message.message_id) == ({"h": 1}, "application/json", "m1")
    assert message.redelivered and message.delivery_tag == 4


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("tests.unit.test_consumer.NotAHandler", "is a class but not a TopicHandler"),
        ("tests.unit.test_consumer.NOT_CALLABLE", "is neither a function"),
        ("tests.unit.test_consumer.missing", "cannot be imported"),
        ("no_such_module.handle", "cannot be imported"),
    ],
)
def test_what_is_not_a_handler(path, problem):
    with pytest.raises(HandlerError, match=problem):
        load(path)


class NotAHandler:
    pass


NOT_CALLABLE = 42


def test_handlers_load_by_dotted_path():
    assert load("tests.unit.test_consumer.Orders") is Orders
    assert load("tests.unit.test_consumer.fail_first") is fail_first


def test_the_consumer_state_rides_on_the_heartbeat():
    stats = ConsumerStats()
    stats.connected(again=False)
    stats.registered = True
    stats.holding = lambda: (2, 3, None)
    for outcome in (Outcome.ACKED, Outcome.ACKED, Outcome.REJECTED):
        stats.settled(outcome)
    stats.duration.observe(0.3)
    stats.disconnected("320 CONNECTION_FORCED - " + "x" * 1000)
    stats.connected(again=True)
    checks = SimpleNamespace(report=lambda now: ({}, {}))
    sender = HeartbeatSender(None, 2, 1.0, 4, None, checks, consumer=stats)
    beat = from_wire(Heartbeat, json.loads(fit(sender.message(0.0))))
    assert beat.consumer is not None and beat.consumer.link is BrokerLink.CONNECTED
    assert (beat.consumer.in_flight, beat.consumer.prefetched) == (2, 3)
    assert not beat.consumer.registered  # a reconnection registers anew
    messages = beat.counters.messages
    assert messages is not None and messages.outcomes == {"acked": 2, "rejected": 1}
    assert messages.reconnects == 1 and messages.duration.sum_s == pytest.approx(0.3)
    assert beat.requests_total == 0 and beat.threads == 4
    assert len(fit(sender.message(0.0))) < protocol.MAX_LINE


def test_an_error_in_the_heartbeat_is_bounded():
    stats = ConsumerStats()
    stats.disconnected("x" * 5000)
    assert len(stats.state().error) == 300


def test_backoff_doubles_from_one_second_to_thirty_with_jitter():
    backoff = Backoff(rng=random.Random(1))
    delays = [backoff.next() for _ in range(8)]
    for n, delay in enumerate(delays):
        assert min(30.0, 0.8 * 2**n) <= delay <= min(30.0, 1.2 * 2**n)
    assert delays[-1] <= 30.0
    backoff.reset()
    assert backoff.next() <= 1.2


def test_handled_memory_forgets_the_oldest():
    memory = HandledMemory(size=2)
    for message_id in ("a", "b", "c"):
        memory.remember(message_id)
    assert "a" not in memory and "b" in memory and "c" in memory


def consume_options(**cli):
    return resolve({"handler": "a.b", "queue": "q", **cli}, command="consume")


def test_connection_parameters_from_a_url_or_from_host_port_and_credentials():
    from hurricane.consumer.broker import describe_broker, parameters

    tls = parameters(consume_options(amqp_url="amqps://shop:pw@mq.example.com/shop?heartbeat=5"), 0)
    assert tls.ssl_options is not None and tls.port == 5671 and tls.heartbeat == 5
    assert (tls.host, tls.virtual_host, tls.credentials.username) == ("mq.example.com", "shop", "shop")
    assert "hurricane consumer 0" in tls.client_properties["connection_name"]
    plain = parameters(consume_options(amqp_host="mq", amqp_port="5673", amqp_vhost="v"), 1)
    assert plain.ssl_options is None and (plain.host, plain.port, plain.virtual_host) == ("mq", 5673, "v")
    assert plain.credentials.username == "guest"  # pika's default, as in django-hurricane
    options = resolve(
        {"handler": "a.b", "queue": "q", "amqp_url": "amqp://mq/"},
        {"AMQP_USER": "u", "AMQP_PASSWORD": "p"},
        {},
        "consume",
    )
    url_without_user = parameters(options, 0)
    assert (url_without_user.credentials.username, url_without_user.credentials.password) == ("u", "p")
    assert (
        describe_broker(consume_options(amqp_url="amqp://u:secret@mq:5672/%2F?heartbeat=5"))
        == "amqp://u:***@mq:5672/%2F"
    )
    assert describe_broker(consume_options(amqp_host="mq")) == "amqp://mq:5672/%2F"


def test_pika_errors_are_one_line_without_the_password():
    from pika.adapters.utils.connection_workflow import (
        AMQPConnectionWorkflowFailed,
        AMQPConnectorSocketConnectError,
    )

    from hurricane.consumer.broker import describe_error

    refused = pika.exceptions.AMQPConnectionError(
        AMQPConnectionWorkflowFailed(
            [AMQPConnectorSocketConnectError(ConnectionRefusedError(111, "refused"))]
        )
    )
    assert describe_error(refused) == "ConnectionRefusedError: [Errno 111] refused"
    closed = pika.exceptions.ConnectionClosedByBroker(320, "CONNECTION_FORCED - shutdown")
    assert describe_error(closed) == "320 CONNECTION_FORCED - shutdown"
    assert describe_error(None) == "closed"

    async def scrubbed():
        from hurricane.consumer.broker import BrokerSession

        session = BrokerSession(pika.ConnectionParameters(), lambda *args: None, ("hunter2",))
        return session.clean("403 ACCESS_REFUSED - login hunter2 refused")

    assert asyncio.run(scrubbed()) == "403 ACCESS_REFUSED - login *** refused"
