"""A two-way channel between the supervisor and the worker template: one JSON message per
datagram (a SOCK_SEQPACKET socket pair keeps their boundaries), descriptors passed along."""

from __future__ import annotations

import json
import socket
from typing import Any

from supervisor import protocol

MAX_MESSAGE = 1 << 16
MAX_FDS = 4


def pair() -> tuple[socket.socket, socket.socket]:
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


def send(
    sock: socket.socket, msg: protocol.ChildMessage | protocol.ForkWorker, fds: list[int] | None = None
) -> None:
    socket.send_fds(sock, [protocol.encode(msg, limit=MAX_MESSAGE)], fds or [])


def receive(sock: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    """The next message and the descriptors that came with it; (None, []) when the other end
    is gone. A malformed message is (``{}``, fds): the caller skips it."""
    data, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, MAX_FDS)
    if not data:
        return None, fds
    try:
        message = json.loads(data)
    except ValueError:
        return {}, fds
    return (message if isinstance(message, dict) else {}), fds
