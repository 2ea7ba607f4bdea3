"""Message handlers for the consume tests: each records what it handled in a file.

The file is $CONSUMER_RECORD; every line is one JSON event (``start`` or ``done``,
the message id, whether it was redelivered, the worker's pid), written with one
O_APPEND write so that several workers and threads can share it. A message's body
is a JSON task: ``{"sleep": 0.5}`` sleeps that long, ``{"fail": true}`` raises.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

from hurricane.amqp.basehandler import TopicHandler


def note(event: str, message_id: str | None, redelivered: bool) -> None:
    line = json.dumps({"event": event, "id": message_id, "redelivered": redelivered, "pid": os.getpid()})
    fd = os.open(os.environ["CONSUMER_RECORD"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode() + b"\n")
    finally:
        os.close(fd)


def record(message: Any) -> None:
    """A plain handler: sleeps or fails as the task says."""
    task = json.loads(message.body)
    note("start", message.message_id, message.redelivered)
    time.sleep(task.get("sleep", 0))
    if task.get("fail"):
        raise RuntimeError(f"poison message {message.message_id}")
    note("done", message.message_id, message.redelivered)


async def record_async(message: Any) -> None:
    """The same, as a coroutine on the worker's event loop."""
    task = json.loads(message.body)
    note("start", message.message_id, message.redelivered)
    await asyncio.sleep(task.get("sleep", 0))
    if task.get("fail"):
        raise RuntimeError(f"poison message {message.message_id}")
    note("done", message.message_id, message.redelivered)


async def block_loop(message: Any) -> None:
    """An async handler that blocks the worker's event loop (``{"block": 30}``), but only on
    the first delivery: the redelivery goes through."""
    task = json.loads(message.body)
    note("start", message.message_id, message.redelivered)
    if not message.redelivered:
        time.sleep(task.get("block", 0))
    note("done", message.message_id, message.redelivered)


def noop(message: Any) -> None:
    """For the benchmark: nothing at all."""


class Orders(TopicHandler):
    """A django-hurricane 1.6 handler, unchanged: explicit acks, the ORM on its thread."""

    def get_routing_keys(self, queue_name: str) -> list[str]:
        return ["orders.*"]

    def on_message(self, _unused_channel: Any, basic_deliver: Any, properties: Any, body: bytes) -> None:
        from notes.models import Note

        note("start", properties.message_id, basic_deliver.redelivered)
        Note.objects.create(text=f"{basic_deliver.routing_key}: {body.decode()}"[:200])
        self.acknowledge_message(basic_deliver.delivery_tag)
        note("done", properties.message_id, basic_deliver.redelivered)


class NotAHandler:
    """A class that is no TopicHandler: consume refuses it."""
