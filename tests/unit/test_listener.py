"""The listener's connection limit, on a real socket on 127.0.0.1: idle clients beyond
the limit take the place of the longest-idle ones, one for one."""

import asyncio
import socket

import pytest

from hurricane.worker.listener import Listener
from supervisor.options import resolve

pytestmark = pytest.mark.timeout(30)


def never_called(conn, head, body, size):
    raise AssertionError("no client sent a request")


async def hold_idle_clients(limit: int, clients: int) -> tuple[int, int]:
    """Connect ``clients`` idle clients to a listener allowed ``limit``; once every one was
    accepted (and the oldest closed to make room), how many the listener holds, and how
    many clients it closed."""
    server = socket.create_server(("127.0.0.1", 0), backlog=clients)
    listener = Listener(never_called, resolve({"max_connections": limit}), server)
    listener.start()
    loop = asyncio.get_running_loop()
    port = server.getsockname()[1]
    socks = []
    try:
        for _ in range(clients):
            sock = socket.socket()
            sock.setblocking(False)
            await loop.sock_connect(sock, ("127.0.0.1", port))
            socks.append(sock)
        evicted = 0
        deadline = loop.time() + 10
        while loop.time() < deadline:
            evicted = sum(1 for s in socks if closed_by_peer(s))
            if evicted == clients - limit and not listener.connections.starting:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # nothing more may happen: no client is waiting
        return len(listener.connections), sum(1 for s in socks if closed_by_peer(s))
    finally:
        listener.stop()
        for sock in socks:
            sock.close()


def closed_by_peer(sock: socket.socket) -> bool:
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except ConnectionError:
        return True


@pytest.mark.parametrize("clients", [5, 40, 200])
def test_each_client_beyond_the_limit_closes_exactly_one_idle_connection(clients):
    held, evicted = asyncio.run(hold_idle_clients(4, clients))
    assert (held, evicted) == (4, clients - 4)
