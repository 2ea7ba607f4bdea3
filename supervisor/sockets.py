"""Binding the listening sockets, with errors a person can act on."""

from __future__ import annotations

import errno
import socket

BACKLOG = 2048


class BindError(OSError):
    """A listening socket could not be bound; the message is one readable line."""


def bind(host: str, port: int, option: str) -> socket.socket:
    """Bind and listen on host:port; the socket is inheritable so children can share it."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise BindError(f"option --host: {host!r} cannot be resolved ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise BindError(f"option {option}: {port} is already in use on {host}") from None
        if exc.errno == errno.EACCES:
            raise BindError(f"option {option}: no permission to listen on {port}") from None
        raise BindError(f"option {option}: cannot listen on {host}:{port} ({exc.strerror})") from None
    sock.setblocking(False)
    sock.set_inheritable(True)
    return sock


def bound_port(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])
