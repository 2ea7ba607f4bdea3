"""Handlers for bench/consume.py, importable by Hurricane and by django-hurricane 1.6 alike
(both ship ``hurricane.amqp.basehandler.TopicHandler``).

With $BENCH_LATENCY set, each message's end-to-end latency (now minus the publisher's
``t`` header, both CLOCK_MONOTONIC nanoseconds) is appended to that file.
"""

from __future__ import annotations

from typing import Any

from consume_bare import record  # bench/ is on the path of every consumer the benchmark starts

from hurricane.amqp.basehandler import TopicHandler

_out: list[int] = []


def _record(headers: dict[str, Any] | None) -> None:
    record(headers, _out)


def noop(message: Any) -> None:
    """Hurricane's plain handler form: returning acks."""
    _record(message.headers)


class Ack(TopicHandler):
    """django-hurricane's form: ack explicitly."""

    def on_message(self, _unused_channel: Any, basic_deliver: Any, properties: Any, body: bytes) -> None:
        _record(properties.headers)
        self.acknowledge_message(basic_deliver.delivery_tag)
