"""The bare client loop bench/consume.py compares with: consume and ack inline, nothing else.

python bench/consume_bare.py pika|aio-pika URL QUEUE PREFETCH
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any


def record(headers: dict[str, Any] | None, out: list[int]) -> None:
    """With $BENCH_LATENCY set, append the message's end-to-end latency in ns (``out`` holds
    the file's descriptor once it is open)."""
    path = os.environ.get("BENCH_LATENCY")
    if not path or not headers or "t" not in headers:
        return
    if not out:
        out.append(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644))
    os.write(out[0], f"{time.monotonic_ns() - int(headers['t'])}\n".encode())


async def with_pika(url: str, queue: str, prefetch: int) -> None:
    import pika
    from pika.adapters.asyncio_connection import AsyncioConnection

    loop = asyncio.get_running_loop()
    out: list[int] = []
    opened: asyncio.Future[Any] = loop.create_future()
    connection = AsyncioConnection(
        pika.URLParameters(url), on_open_callback=opened.set_result, custom_ioloop=loop
    )
    await opened
    channel_ready: asyncio.Future[Any] = loop.create_future()
    connection.channel(on_open_callback=channel_ready.set_result)
    channel = await channel_ready

    def on_message(ch: Any, deliver: Any, properties: Any, body: bytes) -> None:
        record(properties.headers, out)
        ch.basic_ack(deliver.delivery_tag)

    channel.basic_qos(prefetch_count=prefetch)
    channel.basic_consume(queue, on_message)
    await asyncio.Event().wait()


async def with_aio_pika(url: str, queue: str, prefetch: int) -> None:
    import aio_pika

    out: list[int] = []
    connection = await aio_pika.connect(url)
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=prefetch)
    target = await channel.get_queue(queue, ensure=False)

    async def on_message(message: Any) -> None:
        record(message.headers, out)
        await message.ack()

    await target.consume(on_message)
    await asyncio.Event().wait()


if __name__ == "__main__":
    client, url, queue, prefetch = sys.argv[1:5]
    run = with_pika if client == "pika" else with_aio_pika
    asyncio.run(run(url, queue, int(prefetch)))
