"""Start the real ``manage.py consume`` of the example project, publish to its broker, and
read what its handlers recorded (``tests/consumer_handlers.py``).

As with ``serving.py``: every process runs in its own session and is killed by pid,
every wait has a deadline, and failures carry the consumer's output.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika

from tests.serving import Server, serve_env, start, stop, wait_until


def consume_env(record: Path, **extra: str) -> dict[str, str]:
    return serve_env(CONSUMER_RECORD=str(record), **extra)


@contextmanager
def consuming(*args: str, env: dict[str, str], ready: bool = True) -> Iterator[Server]:
    """Run ``manage.py consume`` with the probes on a free port until the block ends (ready:
    /ready answered 200); kill it after."""
    server = start("--host", "127.0.0.1", "--probe-port", "0", *args, env=env, command="consume")
    try:
        server.probe_port = int(server.wait_for_line(r"probes on [^:]+:(\d+)").group(1))
        if ready:
            server.wait_ready()
        yield server
    finally:
        stop(server)


def unique(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:8]}"


class Broker:
    """A blocking pika connection to the test broker: declare, publish with confirms, count."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.connection = pika.BlockingConnection(pika.URLParameters(url))
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()

    def queue(self, name: str, durable: bool = False, **arguments: Any) -> str:
        self.channel.queue_declare(name, durable=durable, arguments=arguments or None)
        return name

    def publish(
        self,
        tasks: Iterable[dict[str, Any]],
        routing_key: str,
        exchange: str = "",
        persistent: bool = False,
        first: int = 0,
    ) -> list[str]:
        """Publish each task as one JSON message with id ``m<n>``; confirmed by the broker."""
        ids = []
        for n, task in enumerate(tasks, first):
            message_id = f"m{n}"
            properties = pika.BasicProperties(
                message_id=message_id,
                content_type="application/json",
                delivery_mode=pika.DeliveryMode.Persistent if persistent else None,
            )
            self.channel.basic_publish(exchange, routing_key, json.dumps(task).encode(), properties)
            ids.append(message_id)
        return ids

    def count(self, queue: str) -> int:
        """Messages ready in the queue (not those delivered and unacknowledged)."""
        return int(self.channel.queue_declare(queue, passive=True).method.message_count)

    def take_all(self, queue: str) -> list[tuple[Any, Any, bytes]]:
        """Every message ready in the queue, acknowledged: (deliver, properties, body)."""
        taken = []
        while True:
            deliver, properties, body = self.channel.basic_get(queue, auto_ack=True)
            if deliver is None:
                return taken
            taken.append((deliver, properties, body))


@contextmanager
def broker(url: str) -> Iterator[Broker]:
    connection = Broker(url)
    try:
        yield connection
    finally:
        connection.close()


@dataclass(frozen=True)
class Event:
    event: str
    id: str
    redelivered: bool
    pid: int


class Record:
    """What the handlers wrote to $CONSUMER_RECORD."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.touch()

    def events(self) -> list[Event]:
        lines = self.path.read_text().splitlines()
        return [Event(**json.loads(line)) for line in lines if line.strip()]

    def count(self, event: str) -> Counter[str]:
        return Counter(e.id for e in self.events() if e.event == event)

    def done(self) -> Counter[str]:
        return self.count("done")

    def started(self) -> Counter[str]:
        return self.count("start")

    def wait_done(self, ids: Iterable[str], timeout: float, output: Any = str) -> None:
        wanted = set(ids)
        wait_until(
            lambda: wanted <= set(self.done()),
            timeout,
            f"{len(wanted)} messages handled",
            lambda: f"missing: {sorted(wanted - set(self.done()))[:10]}\n{output()}",
        )


def metric(server: Server, name: str, **labels: str) -> float | None:
    """One sample from the probe port's /metrics; None if it is not there."""
    from prometheus_client.parser import text_string_to_metric_families

    status, _, body = server.request("GET", "/metrics", port=server.probe_port, timeout=5.0)
    assert status == 200
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


def wait_metric(server: Server, value: float, name: str, **labels: str) -> None:
    """Wait until the sample has the value (heartbeats reach the probe a moment after the fact)."""
    wait_until(
        lambda: metric(server, name, **labels) == value,
        10,
        f"{name}{labels} == {value}",
        lambda: server.output,
    )


def worker_pids(server: Server) -> list[int]:
    _, body = server.probe("/alive")
    return [w["pid"] for w in body["workers"]]


def record_path(tmp_path: Path) -> Path:
    return tmp_path / f"record-{os.getpid()}.jsonl"
