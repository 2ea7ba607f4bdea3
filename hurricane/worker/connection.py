"""One client connection: read requests, hand them to the application, enforce the limits.

Runs on the event loop. A connection is IDLE (between requests), reading a HEAD or a
BODY, or waiting for the APPlication's response; while the application runs, at
most a request head's worth of what the client sends next is buffered.
Every state but APP has a deadline, checked by the listener's sweep.

A connection is given what it uses (the loop, the options, the function that
handles a request, the registry of open connections) and knows nothing of the
listener or of WSGI, so it can be driven on a fake transport in a test.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import threading
from collections.abc import Callable, MutableSet
from typing import IO, Any, cast

from hurricane.worker.body import Body, BodyTooLarge
from hurricane.worker.rates import MinimumRate
from hurricane.worker.request import MAX_HEAD, BadRequest, HeadReader, RequestHead
from hurricane.worker.response import error_response
from supervisor.options import Options

log = logging.getLogger("hurricane.worker")

THREAD_QUEUE_LIMIT = 256 * 1024  # bytes a view thread may have queued for the loop
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
LINGER = 1.0  # seconds we keep reading (and dropping) after refusing a request


class State(enum.Enum):
    IDLE = "idle"
    HEAD = "head"
    BODY = "body"
    APP = "app"
    LINGER = "linger"
    UPGRADED = "upgraded"  # handed to another protocol (a WebSocket session)
    CLOSED = "closed"


# Starts one request on the loop thread: the connection, its head, its body (None when
# empty) and the body's size. The connection waits in APP until the response is written.
Handler = Callable[["Connection", RequestHead, IO[bytes] | None, int], None]


class Connection(asyncio.Protocol):
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        options: Options,
        handle: Handler,
        registry: MutableSet[Connection],
    ) -> None:
        self.loop = loop
        self.options = options
        self.handle = handle
        self.registry = registry
        self.state = State.IDLE
        self.buffer = bytearray()
        # The first request is due within the read timeout; keep-alive idling comes later.
        self.deadline: float | None = self.loop.time() + self.options.read_timeout
        self.heads = HeadReader()
        self.head: RequestHead | None = None
        self.body: Body | None = None
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] = ("", 0)
        self.processing = False
        self.write_paused = False
        self.read_paused = False
        self.queued = 0
        self.flow = threading.Condition()  # view threads wait here while the client is slow
        self.drained: asyncio.Future[None] | None = None
        self.requests = 0
        self.idle_since = self.loop.time()
        self.on_lost: Callable[[], object] | None = None  # an async view to cancel if the client leaves
        self.rate = MinimumRate(options.min_data_rate, options.data_rate_grace)
        self.body_started = 0.0
        self.sent = 0  # bytes handed to the transport, ever
        self.stalled_at = 0.0  # when the client last stopped taking what we wrote
        self.stalled_sent = 0  # what had left the transport's buffer by then
        self.progress_at = 0.0  # since then: when we last saw it take something
        self.progress_sent = 0

    # -- asyncio.Protocol -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.peer = (str(peer[0]), int(peer[1]))
        self.registry.add(self)

    def data_received(self, data: bytes) -> None:
        if self.state is State.LINGER:
            return
        self.buffer += data
        if self.state is not State.APP:
            self.process()
        elif len(self.buffer) > MAX_HEAD and not self.read_paused:
            # A client pipelining while its request runs: keep the rest in the kernel.
            self.read_paused = True
            assert self.transport is not None
            self.transport.pause_reading()

    def eof_received(self) -> bool | None:
        return None  # close, unless a response is on its way (asyncio keeps writing it)

    def connection_lost(self, exc: Exception | None) -> None:
        self.state = State.CLOSED
        self.deadline = None
        self.registry.discard(self)
        self.release_writers()
        if self.on_lost is not None:
            self.on_lost()

    def pause_writing(self) -> None:
        self.write_paused = True
        self.stalled_at = self.progress_at = self.loop.time()
        self.stalled_sent = self.progress_sent = self.delivered()
        if self.state is State.APP:
            self.deadline = self.reader_deadline()

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.state is State.APP:
            self.deadline = None
        self.release_writers()

    def delivered(self) -> int:
        """Bytes that have left the transport's buffer for the kernel."""
        assert self.transport is not None
        return self.sent - self.transport.get_write_buffer_size()

    def reader_deadline(self) -> float:
        """While the client is not keeping up with a response: when to look again, and cut it
        off if by then it took nothing for --read-timeout, or less than the minimum rate."""
        stalled = self.progress_at + self.options.read_timeout
        slowest = self.rate.deadline(self.stalled_at, self.progress_sent - self.stalled_sent)
        return stalled if slowest is None else min(stalled, slowest)

    def reader_too_slow(self) -> bool:
        now, delivered = self.loop.time(), self.delivered()
        if delivered > self.progress_sent:
            self.progress_at, self.progress_sent = now, delivered
        moved = delivered - self.stalled_sent
        return now - self.progress_at >= self.options.read_timeout or self.rate.too_slow(
            self.stalled_at, moved, now
        )

    # -- reading requests -----------------------------------------------------------

    def process(self) -> None:
        """Parse what is buffered into requests, as far as it goes."""
        if self.processing:
            return
        self.processing = True
        try:
            while self.buffer and self.state in (State.IDLE, State.HEAD, State.BODY):
                if self.state is not State.BODY and not self.read_head():
                    break
                if self.state is State.BODY and not self.read_body():
                    break
                self.dispatch()
        except BadRequest as exc:
            self.refuse(exc.status)
        finally:
            self.processing = False

    def read_head(self) -> bool:
        if self.state is State.IDLE:
            while self.buffer[:2] == b"\r\n":  # RFC 9112: ignore empty lines before a request
                del self.buffer[:2]
            if not self.buffer or self.buffer == b"\r":
                return False
            self.state = State.HEAD
            self.deadline = self.loop.time() + self.options.read_timeout
        found = self.heads.read(self.buffer)
        if found is None:
            return False
        self.head, size = found
        del self.buffer[:size]
        return self.expect_body(self.head)

    def expect_body(self, head: RequestHead) -> bool:
        length = head.content_length
        if length is not None and length > self.options.max_body_size:
            raise BodyTooLarge()
        if not head.chunked and not length:
            self.body = None
            return True
        self.body = Body(length, self.options.max_body_size, self.options.max_buffer_size)
        self.state = State.BODY
        self.body_started = self.loop.time()
        self.deadline = self.body_started + self.options.read_timeout
        if head.expect_continue and not self.buffer:
            self.write(CONTINUE)
        return True

    def read_body(self) -> bool:
        assert self.body is not None
        used = self.body.feed(self.buffer)
        del self.buffer[:used]
        # No byte for --read-timeout, or too few since the body began: 408.
        deadline = self.loop.time() + self.options.read_timeout
        slowest = self.rate.deadline(self.body_started, self.body.size)
        self.deadline = deadline if slowest is None else min(deadline, slowest)
        return self.body.done

    def dispatch(self) -> None:
        assert self.head is not None and self.transport is not None
        head, body = self.head, self.body
        self.head, self.body = None, None
        self.state = State.APP
        self.deadline = None
        self.requests += 1
        if body is None:
            self.handle(self, head, None, 0)
        else:
            self.handle(self, head, body.input(), body.size)

    def refuse(self, status: int) -> None:
        """Answer a request we cannot read with ``status``, then close."""
        log.info("refused a request from %s with %d", self.peer[0], status)
        if self.body is not None:
            self.body.file.close()  # it may be a temporary file already
            self.body = None
        self.write(error_response(status))
        self.linger()

    def linger(self) -> None:
        """Close our side but drop what the client still sends for a moment: closing at once
        with unread data makes the kernel reset the connection, and the client would lose
        the response it has not read yet."""
        assert self.transport is not None
        self.state = State.LINGER
        self.buffer = bytearray()  # not clear(): a traceback may still hold a view of it
        self.deadline = self.loop.time() + LINGER
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        self.transport.write_eof()

    # -- writing responses (loop thread) --------------------------------------------

    def write(self, data: bytes) -> None:
        if self.transport is not None and self.state is not State.CLOSED and data:
            self.sent += len(data)
            self.transport.write(data)

    async def writable(self) -> None:
        """Wait until the client has taken enough of what we wrote."""
        while self.write_paused and self.state is not State.CLOSED:
            self.drained = self.loop.create_future()
            await self.drained

    def finish_response(self, keep_alive: bool) -> None:
        """The response is written: go back to reading, or close."""
        if self.state is State.CLOSED:
            return
        if not keep_alive:
            self.close()
            return
        self.state = State.IDLE
        self.idle_since = self.loop.time()
        self.deadline = self.idle_since + self.options.keep_alive_timeout
        if self.read_paused:
            self.read_paused = False
            assert self.transport is not None
            self.transport.resume_reading()
        if self.buffer:
            self.process()

    def close(self) -> None:
        """Close after what is written has gone out."""
        if self.transport is not None and self.state is not State.CLOSED:
            self.state = State.CLOSED
            self.transport.close()
            # What is still buffered goes out at the client's pace, under the same rules as
            # a response in progress: a client that never reads must not hold it forever.
            if self.write_paused:
                self.deadline = self.reader_deadline()
            elif self.transport.get_write_buffer_size():
                self.deadline = self.loop.time() + self.options.read_timeout
            else:
                self.deadline = None

    def hand_over(self) -> tuple[asyncio.Transport, bytes]:
        """Give the transport to another protocol (a WebSocket after an upgrade); what the client
        sent after the request's head comes with it."""
        assert self.transport is not None
        self.state = State.UPGRADED
        self.deadline = None
        leftover, self.buffer = bytes(self.buffer), bytearray()
        self.registry.discard(self)
        return self.transport, leftover

    def evict(self) -> None:
        """Close an idle connection to make room for a new client; a client that has not
        taken the last response yet loses it (that is what makes it a poor keeper)."""
        if self.transport is not None and self.transport.get_write_buffer_size():
            self.state = State.CLOSED
            self.transport.abort()
        else:
            self.close()

    def expire(self) -> None:
        """The deadline passed: drop an idle connection, cut a slow one."""
        if self.state in (State.IDLE, State.LINGER):
            self.close()
        elif self.state in (State.HEAD, State.BODY):
            self.refuse(408)
        elif self.transport is not None and self.write_paused:
            # A response the client takes too slowly, or not at all.
            if self.reader_too_slow():
                log.info(
                    "cut off %s: it took %d bytes of the response in %.1fs",
                    self.peer[0],
                    self.progress_sent - self.stalled_sent,
                    self.loop.time() - self.stalled_at,
                )
                self.transport.abort()
            else:
                self.deadline = self.reader_deadline()
        elif self.state is State.CLOSED and self.transport is not None:
            self.transport.abort()  # closed with a little left to send, none of it taken

    # -- writing from a view thread -------------------------------------------------

    def write_threadsafe(self, data: bytes) -> None:
        """Queue bytes for the loop to write; block while the client is not keeping up."""
        with self.flow:
            while (self.write_paused or self.queued > THREAD_QUEUE_LIMIT) and self.state is not State.CLOSED:
                self.flow.wait(1.0)
            if self.state is State.CLOSED:
                raise ConnectionAbortedError("the client went away")
            self.queued += len(data)
        self.loop.call_soon_threadsafe(self._write_queued, data)

    def _write_queued(self, data: bytes) -> None:
        self.write(data)
        with self.flow:
            self.queued -= len(data)
            self.flow.notify_all()

    def release_writers(self) -> None:
        with self.flow:
            self.flow.notify_all()
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    def call_soon_threadsafe(self, callback: Any, *args: Any) -> None:
        self.loop.call_soon_threadsafe(callback, *args)
