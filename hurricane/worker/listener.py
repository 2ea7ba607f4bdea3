"""Accept connections on the shared socket and keep them within their deadlines and their number.

At ``--max-connections`` the listener stops accepting, so the connections wait in
the shared backlog for another worker, and closes its longest-idle connection to
make room for the one waiting: idle connections cannot crowd out new clients.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import socket
from collections.abc import Callable
from typing import Any

from hurricane.worker.connection import Connection, Handler, State
from hurricane.worker.handoff import shares_socket
from supervisor import descriptors
from supervisor.options import Options

log = logging.getLogger("hurricane.worker")

ACCEPT_BATCH = 64  # connections taken per wakeup by a worker alone on the socket
IDLE_AFTER_RESPONSE = 0.25
IDLE_AFTER_ACCEPT = 1.0
FD_EXHAUSTED_PAUSE = 0.1
FULL_WARNING_EVERY = 10.0  # seconds: a worker kept full logs that once, not per client
OUT_OF_FDS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


class Connections(set[Connection]):
    """The open connections; ``on_gone`` hears of each one that closes.

    ``starting`` holds those accepted whose transport is not up yet: each moves to the
    set itself when it starts, so it is counted once, whichever happened last.
    """

    def __init__(self, on_gone: Callable[[], None]) -> None:
        super().__init__()
        self.on_gone = on_gone
        self.starting: set[Connection] = set()

    def add(self, conn: Connection) -> None:
        self.starting.discard(conn)
        super().add(conn)

    def discard(self, conn: object) -> None:
        super().discard(conn)
        self.on_gone()


class Listener:
    def __init__(
        self, handle: Handler, options: Options, sock: socket.socket, upgraded: Callable[[], int] = lambda: 0
    ) -> None:
        self.handle = handle
        self.upgraded = upgraded  # connections handed to another protocol (WebSockets) still count
        self.options = options
        self.sock = sock
        self.loop: asyncio.AbstractEventLoop  # the running loop, from start() on
        self.connections = Connections(self.connection_gone)
        self.max_connections = options.max_connections or descriptors.default_max_connections(
            descriptors.current_limit(), options.threads
        )
        # Several workers on one socket: one connection per wakeup, so clients connecting at
        # once spread over the workers ready to accept instead of all going to the first one
        # awake, where keep-alive holds them (two workers, wrk -t2 -c32: 32 and 0 in most
        # runs with 64 a wakeup, 16/16 or 17/15 with one).
        self.accept_batch = 1 if shares_socket(options) else ACCEPT_BATCH
        self.accepting = False
        self.full = False  # at --max-connections: accepting waits for a connection to close
        self.warned_full_at: float | None = None
        self.stopped = False
        self.sweep_every = max(0.02, min(1.0, options.keep_alive_timeout / 4, options.read_timeout / 4))

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.sock.setblocking(False)
        self.resume()
        self.loop.call_later(self.sweep_every, self.sweep)

    def resume(self) -> None:
        if not self.accepting and not self.stopped and not self.full:
            self.accepting = True
            self.loop.add_reader(self.sock.fileno(), self.accept, self.accept_batch)

    def pause(self) -> None:
        if self.accepting:
            self.accepting = False
            self.loop.remove_reader(self.sock.fileno())

    def stop(self) -> None:
        """Stop accepting for good; open connections carry on.

        Closing our descriptor matters: once every process sharing the socket has closed
        it, new clients are refused at once instead of waiting in a backlog nobody reads.
        """
        self.pause()
        self.stopped = True
        self.sock.close()

    def accept(self, limit: int = ACCEPT_BATCH) -> None:
        for attempt in range(limit):
            if self.held() >= self.max_connections:
                if attempt == 0:  # the socket was readable: a client is waiting
                    self.make_room()
                return
            try:
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                if exc.errno not in OUT_OF_FDS:
                    raise
                # Out of descriptors: the listening socket stays readable, so stop polling it
                # for a moment instead of spinning; the sweep frees idle connections meanwhile.
                log.warning("cannot accept connections: %s", exc.strerror)
                self.pause()
                self.loop.call_later(FD_EXHAUSTED_PAUSE, self.resume)
                return
            self.adopt(conn)

    def held(self) -> int:
        return len(self.connections) + len(self.connections.starting) + self.upgraded()

    def make_room(self) -> None:
        """At the limit with a client waiting: stop accepting until a connection closes, and
        close the one idle longest, if there is one and none is closing already, so that happens
        soon. Connections still being adopted may be idle ones: ``adopted`` tries again for each."""
        self.full = True
        self.pause()
        if any(c.state is State.CLOSED for c in self.connections):
            return  # one is closing already: its room is on the way
        idle = [c for c in self.connections if c.state is State.IDLE]
        if idle:
            min(idle, key=lambda c: c.idle_since).evict()
        elif not self.connections.starting:
            now = self.loop.time()
            if self.warned_full_at is None or now - self.warned_full_at > FULL_WARNING_EVERY:
                self.warned_full_at = now
                log.warning(
                    "worker at --max-connections (%d), every connection busy: not accepting",
                    self.max_connections,
                )

    def connection_gone(self) -> None:
        if self.full and self.held() < self.max_connections:
            self.full = False
            self.resume()

    def accept_backlog(self) -> None:
        """Take every connection already waiting on the socket, so none is reset at exit."""
        self.accept(limit=1_000_000)

    def adopt(self, conn: socket.socket) -> None:
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # The transport comes up on a later loop iteration; until then the limit and the
        # drain must count the connection.
        connection = Connection(self.loop, self.options, self.handle, self.connections)
        self.connections.starting.add(connection)
        task = asyncio.ensure_future(self.loop.connect_accepted_socket(lambda: connection, conn))
        task.add_done_callback(functools.partial(self.adopted, connection))

    def adopted(self, connection: Connection, task: asyncio.Future[Any]) -> None:
        self.connections.starting.discard(connection)  # it failed before it started
        if self.full and self.held() >= self.max_connections:
            self.make_room()  # the client that found us full still waits: this one may be idle
        else:
            self.connection_gone()  # it failed, or room opened meanwhile
        if not task.cancelled() and task.exception() is not None:
            log.debug("a connection failed before it started: %s", task.exception())

    def sweep(self) -> None:
        now = self.loop.time()
        for conn in [c for c in self.connections if c.deadline is not None and c.deadline < now]:
            conn.expire()
        self.loop.call_later(self.sweep_every, self.sweep)

    def close_idle(self) -> None:
        """Close connections idle for a moment: a client sends its next request right after
        a response, and its first within moments of connecting; closing sooner would cut those."""
        now = self.loop.time()
        for conn in list(self.connections):
            patience = IDLE_AFTER_RESPONSE if conn.requests else IDLE_AFTER_ACCEPT
            if conn.state is State.IDLE and now - conn.idle_since > patience:
                conn.close()

    def between_requests(self) -> int:
        """Connections without a request in flight (they close once idle), and those starting."""
        return len(self.connections.starting) + sum(1 for c in self.connections if c.state is not State.APP)
