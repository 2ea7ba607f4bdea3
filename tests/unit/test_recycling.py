"""What makes a healthy worker due for replacement: requests for an HTTP worker, messages and
stuck handlers for a consumer worker."""

import random

from supervisor.options import resolve
from supervisor.process import ChildProcess
from supervisor.protocol import ConsumerState, Counters, Heartbeat, MessageCounts, RestartReason
from supervisor.workers import WorkerHandle, limits, recycle_reason


def handle(heartbeat: Heartbeat, options) -> WorkerHandle:
    child = ChildProcess.__new__(ChildProcess)
    request_limit, age_limit = limits(options, random.Random(0))
    return WorkerHandle(0, child, 0.0, request_limit, age_limit, 1.0, heartbeat)


def test_max_lifetime_counts_a_consumers_handled_messages():
    options = resolve(
        {"handler": "a.b", "queue": "q", "amqp_host": "h", "max_lifetime": "10"}, command="consume"
    )
    outcomes = {"acked": 6, "rejected": 3, "returned": 50, "interrupted": 50}
    beat = Heartbeat(consumer=ConsumerState(), counters=Counters(messages=MessageCounts(outcomes)))
    assert recycle_reason(handle(beat, options), 1.0, options) is None  # 9 handled; the rest never ran
    outcomes["requeued"] = 1
    assert recycle_reason(handle(beat, options), 1.0, options) is RestartReason.MAX_MESSAGES


def test_a_consumer_handler_past_the_handler_timeout_makes_its_worker_due():
    options = resolve(
        {"handler": "a.b", "queue": "q", "amqp_host": "h", "handler_timeout": "5"}, command="consume"
    )
    stuck = Heartbeat(consumer=ConsumerState(in_flight=1, oldest_s=6.0))
    assert recycle_reason(handle(stuck, options), 1.0, options) is RestartReason.HANDLER_TIMEOUT
    idle = Heartbeat(consumer=ConsumerState(in_flight=0, oldest_s=6.0))
    assert recycle_reason(handle(idle, options), 1.0, options) is None


def test_an_http_workers_requests_are_not_messages():
    options = resolve({"max_requests": "10"})
    assert (
        recycle_reason(handle(Heartbeat(requests_total=10), options), 1.0, options)
        is RestartReason.MAX_REQUESTS
    )
