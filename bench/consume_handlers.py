"""Handlers for bench/consume.py, importable by Hurricane and by django-hurricane 1.6 alike
(both ship ``hurricane.amqp.basehandler.TopicHandler``).

With $BENCH_LATENCY set, each message's end-to-end latency (now minus the publisher's
``t`` header, both CLOCK_MONOTONIC nanoseconds) is appended to that file.
"""

from __future__ import annotations

import os
import time
from typing import Any

from hurricane.amqp.basehandler import TopicHandler

_out: list[int] = []


def _record(headers: dict[str, Any] | None) -> None:
    path = os.environ.get("BENCH_LATENCY")
    if not path or not headers or "t" not in headers:
        return
    if not _out:
        _out.append(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644))
    os.write(_out[0], f"{time.monotonic_ns() - int(headers['t'])}\n".encode())


def noop(message: Any) -> None:
    """Hurricane's plain handler form: returning acks."""
    _record(message.headers)


class Ack(TopicHandler):
    """django-hurricane's form: ack explicitly."""

    def on_message(self, _unused_channel: Any, basic_deliver: Any, properties: Any, body: bytes) -> None:
        _record(properties.headers)
        self.acknowledge_message(basic_deliver.delivery_tag)
