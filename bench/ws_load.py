"""WebSocket load for the benchmark, with the ``websockets`` package's asyncio client.

    python ws_load.py check URL
    python ws_load.py echo URL [--clients 64] [--size 100] [--duration 5]
    python ws_load.py idle URL [--clients 1000]

check: one echo; exit 0, or exit 2 and print why (the server does not speak WebSocket).
echo: every client sends a message of ``size`` bytes and waits for it to come back,
over and over; prints JSON with round trips per second and their p99 latency.
idle: opens ``clients`` connections, prints JSON with how many opened, then holds
them without traffic until standard input closes.

It runs in its own virtualenv (bench/.venvs/ws-client), in a process of its own,
so the client's CPU never competes with the harness's. The client offers no
compression, so every server frames the same bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus, WebSocketException


def dial(url: str, timeout: float) -> connect:
    """A connection without compression or client pings: idle means idle."""
    return connect(url, open_timeout=timeout, compression=None, ping_interval=None)


async def check(url: str) -> int:
    try:
        async with dial(url, 10) as ws:
            await ws.send("ping")
            reply = await asyncio.wait_for(ws.recv(), 10)
    except InvalidStatus as exc:
        print(f"the handshake was answered with HTTP {exc.response.status_code}")
        return 2
    except (OSError, TimeoutError, WebSocketException) as exc:
        print(f"no WebSocket echo: {exc or type(exc).__name__}")
        return 2
    if reply != "ping":
        print(f"the echo answered {reply!r}")
        return 2
    return 0


async def echo(url: str, clients: int, size: int, duration: float) -> dict[str, float]:
    message = "x" * size
    conns = await asyncio.gather(*(dial(url, 30) for _ in range(clients)))
    latencies: list[float] = []
    stop_at = time.perf_counter() + duration

    async def client(ws: ClientConnection) -> None:
        while time.perf_counter() < stop_at:
            began = time.perf_counter()
            await ws.send(message)
            reply = await ws.recv()
            latencies.append(time.perf_counter() - began)
            assert len(reply) == size

    began = time.perf_counter()
    await asyncio.gather(*(client(ws) for ws in conns))
    elapsed = time.perf_counter() - began
    await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else float("nan")
    return {"round_trips_per_s": len(latencies) / elapsed, "p99_ms": p99 * 1000}


async def idle(url: str, clients: int) -> None:
    gate = asyncio.Semaphore(64)  # opening handshakes at a time: no backlog overflow on the server

    async def open_one() -> ClientConnection:
        async with gate:
            return await dial(url, 30)

    results = await asyncio.gather(*(open_one() for _ in range(clients)), return_exceptions=True)
    conns = [ws for ws in results if isinstance(ws, ClientConnection)]
    print(json.dumps({"open": len(conns), "failed": clients - len(conns)}), flush=True)
    await asyncio.to_thread(sys.stdin.read)  # hold until the harness has measured
    await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["check", "echo", "idle"])
    parser.add_argument("url")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--size", type=int, default=100, help="bytes per echo message")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of echo")
    args = parser.parse_args()
    if args.mode == "check":
        return asyncio.run(check(args.url))
    if args.mode == "echo":
        print(json.dumps(asyncio.run(echo(args.url, args.clients, args.size, args.duration))))
    else:
        asyncio.run(idle(args.url, args.clients))
    return 0


if __name__ == "__main__":
    sys.exit(main())
