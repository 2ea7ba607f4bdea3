"""Binding the listening sockets, with errors a person can act on."""

from __future__ import annotations

import errno
import socket
from collections.abc import MutableMapping

BACKLOG = 2048
LISTEN_FDS_START = 3  # systemd passes sockets from fd 3 on (SD_LISTEN_FDS_START)


class BindError(OSError):
    """A listening socket could not be bound; the message is one readable line."""


def bind(host: str, port: int, option: str, host_option: str = "--host") -> socket.socket:
    """Bind and listen on host:port; the socket is inheritable so children can share it."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise BindError(f"option {host_option}: {host!r} cannot be resolved ({exc.strerror})") from None
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


def passed_fds(environ: MutableMapping[str, str], pid: int) -> list[int]:
    """The file descriptors systemd passed to this process (socket activation), if any.

    The variables are removed either way, as sd_listen_fds() does, so that
    children do not take them for their own.
    """
    listen_pid = environ.pop("LISTEN_PID", "")
    count = environ.pop("LISTEN_FDS", "")
    environ.pop("LISTEN_FDNAMES", None)
    if listen_pid != str(pid) or not count.isdigit():
        return []
    return list(range(LISTEN_FDS_START, LISTEN_FDS_START + int(count)))


def inherited(environ: MutableMapping[str, str], pid: int) -> list[socket.socket]:
    """The listening sockets systemd passed, in order: app first, then probe."""
    sockets = []
    for fd in passed_fds(environ, pid):
        try:
            sock = socket.socket(fileno=fd)
        except OSError as exc:
            raise BindError(f"LISTEN_FDS: fd {fd} is not a socket ({exc.strerror})") from None
        if sock.type != socket.SOCK_STREAM:
            raise BindError(f"LISTEN_FDS: fd {fd} is not a stream socket (use ListenStream=)")
        sock.setblocking(False)
        sock.set_inheritable(True)
        sockets.append(sock)
    return sockets
