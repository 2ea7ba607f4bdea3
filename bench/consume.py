"""Benchmark ``manage.py consume`` against django-hurricane 1.6's ``consume`` and a bare client loop.

    python bench/consume.py [--rounds 3] [--messages 10000] [--rate 500] [--seconds 4]

Starts a private RabbitMQ node (tests/services.py) and sets up django-hurricane 1.6
in bench/.venvs (as bench/run.py does). Throughput: the queue is filled with
--messages transient 100-byte messages first, then one consumer process drains
it through a no-op handler; messages/s is measured from the first message that
leaves the queue to the last one (polled with passive declares), so start-up
does not count. Hurricane runs
one consumer worker with its defaults (--concurrency 1, so prefetch 1) and with
--prefetch 100; django-hurricane's prefetch is always 1; the bare loops (pika's
AsyncioConnection, and aio-pika when installed) consume and ack inline at the same
prefetches. Latency: with each consumer registered on an empty queue, messages
are published at --rate for --seconds, and the end-to-end time from publish to
handler is recorded (p50 and p99 per round). Rounds interleave the consumers;
the table shows medians and ratios. Not part of the tests.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pika

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from bench.servers import EXAMPLE, VENVS, ensure_venv, migrate  # noqa: E402
from tests.services import RabbitMQServer, free_ports  # noqa: E402

BODY = b"x" * 100
QUEUE, EXCHANGE = "bench.consume", "bench"
RATIOS = 5  # consumers the ratios need: both Hurricane runs, django-hurricane, both bare pika runs


@dataclass
class Consumer:
    name: str
    command: Callable[[str, int], list[str]]  # (broker url, broker port) -> argv
    env: dict[str, str]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=500, help="messages/s for the latency run")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of the latency run")
    parser.add_argument("--only", default="", help="run only the consumers whose name matches this regex")
    args = parser.parse_args()
    ensure_venv("django-hurricane")
    with tempfile.TemporaryDirectory(prefix="hurricane-bench-") as scratch, RabbitMQServer() as mq:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HURRICANE_", "DJANGO_", "PYTHON"))}
        env.update(EXAMPLE_DB=str(Path(scratch) / "db.sqlite3"), DJANGO_SETTINGS_MODULE="example.settings")
        migrate(env)
        consumers = [c for c in make_consumers(env) if re.search(args.only, c.name)]
        rates: dict[str, list[float]] = {c.name: [] for c in consumers}
        latencies: dict[str, list[tuple[float, float]]] = {c.name: [] for c in consumers}
        for round_no in range(args.rounds):
            order = consumers if round_no % 2 == 0 else consumers[::-1]
            for consumer in order:
                print(f"round {round_no + 1}/{args.rounds}: {consumer.name}", file=sys.stderr, flush=True)
                rates[consumer.name].append(throughput(mq, consumer, args.messages, Path(scratch)))
                got = latency(mq, consumer, args.rate, args.seconds, Path(scratch))
                latencies[consumer.name].append((percentile(got, 0.5), percentile(got, 0.99)))
        print(report(rates, latencies, args))


def make_consumers(env: dict[str, str]) -> list[Consumer]:
    ours = {**env, "PYTHONPATH": os.pathsep.join(map(str, (EXAMPLE, ROOT, BENCH)))}
    peers = {**env, "PYTHONPATH": os.pathsep.join(map(str, (EXAMPLE, BENCH)))}
    old_python = str(VENVS / "django-hurricane" / "bin" / "python")

    def hurricane(prefetch: int) -> Callable[[str, int], list[str]]:
        extra = ["--prefetch", str(prefetch)] if prefetch > 1 else []
        return lambda url, port: [
            sys.executable, "manage.py", "consume", "consume_handlers.noop", "--queue", QUEUE,
            "--exchange", EXCHANGE, "--amqp-url", url, "--probe-port", str(free_ports(1)[0]), *extra,
        ]  # fmt: skip

    def bare(client: str, prefetch: int) -> Callable[[str, int], list[str]]:
        return lambda url, port: [
            sys.executable,
            str(BENCH / "consume_bare.py"),
            client,
            url,
            QUEUE,
            str(prefetch),
        ]

    consumers = [
        Consumer("hurricane, prefetch 1", hurricane(1), ours),
        Consumer("hurricane, prefetch 100", hurricane(100), ours),
        Consumer(
            "django-hurricane 1.6 (prefetch 1)",
            lambda url, port: [
                old_python,
                "manage.py",
                "consume",
                "consume_handlers.Ack",
                "--queue",
                QUEUE,
                "--exchange",
                EXCHANGE,
                "--amqp-host",
                "127.0.0.1",
                "--amqp-port",
                str(port),
                "--probe-port",
                str(free_ports(1)[0]),
            ],  # fmt: skip
            peers,
        ),
        Consumer("bare pika, prefetch 1", bare("pika", 1), ours),
        Consumer("bare pika, prefetch 100", bare("pika", 100), ours),
    ]
    try:
        import aio_pika  # noqa: F401
    except ImportError:
        return consumers
    return [*consumers, Consumer("bare aio-pika, prefetch 100", bare("aio-pika", 100), ours)]


# -- the broker side ----------------------------------------------------------------------


def channel(mq: RabbitMQServer) -> pika.adapters.blocking_connection.BlockingChannel:
    connection = pika.BlockingConnection(pika.URLParameters(mq.url))
    ch = connection.channel()
    # As django-hurricane declares them, so that every consumer can declare them again.
    ch.exchange_declare(EXCHANGE, "topic")
    ch.queue_declare(QUEUE)
    ch.queue_bind(QUEUE, EXCHANGE, QUEUE)
    ch.queue_purge(QUEUE)
    return ch


def counts(ch: pika.adapters.blocking_connection.BlockingChannel) -> tuple[int, int]:
    method = ch.queue_declare(QUEUE, passive=True).method
    return method.message_count, method.consumer_count


def poll(
    ch: pika.adapters.blocking_connection.BlockingChannel, done: Callable[[int, int], bool], timeout: float
) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done(*counts(ch)):
            return time.monotonic()
        time.sleep(0.005)
    raise TimeoutError("the queue did not get there in time")


def start(consumer: Consumer, mq: RabbitMQServer, log: Path, **env: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            consumer.command(mq.url, mq.port),
            cwd=EXAMPLE,
            env={**consumer.env, **env},
            stdout=out,
            stderr=out,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            return
        os.killpg(proc.pid, sig)
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            continue


def throughput(mq: RabbitMQServer, consumer: Consumer, messages: int, scratch: Path) -> float:
    """Messages/s while one consumer drains a full queue."""
    ch = channel(mq)
    try:
        for _ in range(messages):
            ch.basic_publish("", QUEUE, BODY)
        poll(ch, lambda ready, consumers: ready == messages, 60)
        proc = start(consumer, mq, scratch / "consumer.log")
        try:
            first = poll(ch, lambda ready, consumers: ready < messages, 60)
            last = poll(ch, lambda ready, consumers: ready == 0, 600)
        finally:
            stop(proc)
        return messages / (last - first)
    finally:
        ch.connection.close()


def latency(mq: RabbitMQServer, consumer: Consumer, rate: int, seconds: float, scratch: Path) -> list[float]:
    """End-to-end milliseconds from publish to handler, at a fixed publish rate."""
    ch = channel(mq)
    record = scratch / f"latency-{time.monotonic_ns()}.txt"
    proc = start(consumer, mq, scratch / "consumer.log", BENCH_LATENCY=str(record))
    try:
        poll(ch, lambda ready, consumers: consumers >= 1, 60)
        time.sleep(1.0)  # the consumer's first moments (registration, Django's first checks) pass
        total = int(rate * seconds)
        began = time.monotonic()
        for n in range(total):
            pause = began + n / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            properties = pika.BasicProperties(headers={"t": time.monotonic_ns()})
            ch.basic_publish("", QUEUE, BODY, properties)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (
            not record.exists() or len(record.read_text().split()) < total
        ):
            time.sleep(0.05)
    finally:
        stop(proc)
        ch.connection.close()
    return [int(line) / 1e6 for line in record.read_text().split()]


# -- the table -------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def report(
    rates: dict[str, list[float]], latencies: dict[str, list[tuple[float, float]]], args: argparse.Namespace
) -> str:
    def median(name: str) -> float:
        return statistics.median(rates[name])

    lines = [
        f"{args.messages} messages per run, {args.rounds} rounds (median); latency at {args.rate}/s for "
        f"{args.seconds:g}s per round; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs",
        "",
        "| consumer | messages/s | runs | latency p50 ms | latency p99 ms | p99 runs |",
        "|---|---|---|---|---|---|",
    ]
    for name, got in rates.items():
        p50 = statistics.median(p for p, _ in latencies[name])
        p99s = [p for _, p in latencies[name]]
        runs, tails = ", ".join(f"{r:.0f}" for r in got), ", ".join(f"{p:.2f}" for p in p99s)
        lines.append(
            f"| {name} | {median(name):.0f} | {runs} | {p50:.2f} | {statistics.median(p99s):.2f} | {tails} |"
        )
    if len(rates) < RATIOS:
        return "\n".join(lines)
    old = median("django-hurricane 1.6 (prefetch 1)")
    lines += [
        "",
        f"hurricane, prefetch 1 / django-hurricane 1.6: {median('hurricane, prefetch 1') / old:.2f}x",
        f"hurricane, prefetch 100 / django-hurricane 1.6: {median('hurricane, prefetch 100') / old:.2f}x",
        f"hurricane / bare pika, prefetch 1: {median('hurricane, prefetch 1') / median('bare pika, prefetch 1'):.2f}x",
        f"hurricane / bare pika, prefetch 100: "
        f"{median('hurricane, prefetch 100') / median('bare pika, prefetch 100'):.2f}x",
    ]
    if "bare aio-pika, prefetch 100" in rates:
        lines.append(
            f"hurricane / bare aio-pika, prefetch 100: "
            f"{median('hurricane, prefetch 100') / median('bare aio-pika, prefetch 100'):.2f}x"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
