"""One WebSocket session: the ASGI ``websocket`` protocol over a transport an HTTP connection handed over.

The framing is the ``websockets`` package's sans-I/O ``ServerProtocol`` (its C
mask, its size limits before a frame is buffered); this module does the rest:
the handshake as the application decides it (accept with a subprotocol and
headers, close before accept is 403, a raise is 500, ``websocket.http.response``
denies with a body), reassembling fragmented messages and checking their UTF-8,
back-pressure both ways, keepalive pings, and the close handshake.

Reading pauses while the application has not taken what arrived (``QUEUE_LIMIT``
messages), and ``send`` waits while the client is not reading, so a client that
never reads holds at most the transport's buffer and one message.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from websockets.datastructures import Headers
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol

from hurricane.worker.asgi import ASGIApp

log = logging.getLogger("hurricane.worker")

QUEUE_LIMIT = 16  # messages the application has not taken yet before reading pauses
CLOSE_TIMEOUT = 5.0  # seconds to wait for the client's half of the close handshake
NO_STATUS = 1005  # the close frame carried no code
ABNORMAL = 1006  # the connection was lost without a close frame
INTERNAL_ERROR = 1011


class WebSocketClosed(OSError):
    """``send`` on a WebSocket that is closed (ASGI 2.4: a server-specific OSError)."""


@dataclass
class WebSocketCounts:
    """The worker's WebSocket counters, as its heartbeat carries them."""

    messages_in: int = 0
    messages_out: int = 0
    closes: dict[str, int] = field(default_factory=dict)  # by close code
    refused: dict[str, int] = field(default_factory=dict)  # upgrades refused, by reason

    def closed(self, code: int) -> None:
        self.closes[str(code)] = self.closes.get(str(code), 0) + 1

    def refuse(self, reason: str) -> None:
        self.refused[reason] = self.refused.get(reason, 0) + 1


@dataclass(frozen=True)
class Limits:
    max_message: int
    ping_interval: float  # 0: no pings
    ping_timeout: float
    accept_timeout: float
    compression: bool


class Session(asyncio.Protocol):
    def __init__(
        self,
        app: ASGIApp,
        transport: asyncio.Transport,
        scope: dict[str, Any],
        request: Request,
        limits: Limits,
        counts: WebSocketCounts,
        on_end: Callable[[Session], None],
    ) -> None:
        self.app = app
        self.transport = transport
        self.scope = scope
        self.request = request
        self.limits = limits
        self.counts = counts
        self.on_end = on_end
        self.loop = asyncio.get_running_loop()
        # Only when the client offers it; small windows: about 45 KiB per connection, not 137.
        deflate = (
            [
                ServerPerMessageDeflateFactory(
                    server_max_window_bits=12, client_max_window_bits=12, compress_settings={"memLevel": 5}
                )
            ]
            if limits.compression
            else None
        )
        # OPEN from the start: the HTTP connection parsed the handshake request already.
        self.protocol = ServerProtocol(state=State.OPEN, extensions=deflate, max_size=limits.max_message)
        self.response: Response | None = None
        self.phase = "handshake"  # handshake -> open -> closed; or denying -> closed
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.pending = bytearray()  # what arrived before the application accepted
        self.denial: tuple[int, list[tuple[bytes, bytes]], bytearray] | None = None
        self.message: list[Any] = []
        self.decoder: codecs.IncrementalDecoder | None = None
        self.reading_paused = False
        self.writable = asyncio.Event()
        self.writable.set()
        self.disconnected = False
        self.close_code = ABNORMAL
        self.started = time.monotonic()
        self.task: asyncio.Task[None] | None = None
        self.accept_timer: asyncio.TimerHandle | None = None
        self.ping_timer: asyncio.TimerHandle | None = None
        self.close_timer: asyncio.TimerHandle | None = None
        self.ping: bytes | None = None  # the payload of the ping awaiting its pong

    # -- starting ----------------------------------------------------------------

    def start(self, leftover: bytes) -> bool:
        """Validate the handshake; start the application. False if the client was refused."""
        response = self.protocol.accept(self.request)
        if response.status_code != 101:
            self.counts.refuse("handshake")
            self.reply(response)
            return False
        self.response = response
        self.pending += leftover
        self.transport.pause_reading()  # nothing is read until the application accepts
        self.reading_paused = True
        self.inbox.put_nowait({"type": "websocket.connect"})
        self.task = self.loop.create_task(self.run())
        self.accept_timer = self.loop.call_later(self.limits.accept_timeout, self.accept_timed_out)
        return True

    async def run(self) -> None:
        try:
            await self.app(self.scope, self.receive, self.send)
        except WebSocketClosed:
            pass
        except asyncio.CancelledError:
            if self.phase == "handshake":
                self.fail_handshake(503)
            raise
        except Exception:
            log.exception("the WebSocket application raised on %s", self.scope["path"])
            self.end_of_app(error=True)
        else:
            self.end_of_app(error=False)

    def end_of_app(self, error: bool) -> None:
        if self.phase == "handshake":  # it raised, or returned, without accepting or closing
            self.fail_handshake(500)
        elif self.phase == "open" and self.protocol.state is State.OPEN:
            self.protocol.send_close(INTERNAL_ERROR if error else 1000)
            self.flush()

    def accept_timed_out(self) -> None:
        self.accept_timer = None
        if self.phase == "handshake" and self.task is not None:
            log.warning(
                "the WebSocket application did not accept %s within --read-timeout", self.scope["path"]
            )
            self.task.cancel()

    # -- what the application receives ------------------------------------------

    async def receive(self) -> dict[str, Any]:
        message = await self.inbox.get()
        if self.reading_paused and self.phase == "open" and self.inbox.qsize() < QUEUE_LIMIT // 2:
            self.reading_paused = False
            self.transport.resume_reading()
        if message["type"] == "websocket.disconnect":
            self.inbox.put_nowait(message)  # an application that asks again hears it again
        return message

    # -- what the application sends ----------------------------------------------

    async def send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if self.phase == "open":
            await self.send_open(kind, message)
        elif self.phase == "handshake":
            self.send_handshake(kind, message)
        elif self.phase == "denying":
            self.send_denial(kind, message)
        else:
            raise WebSocketClosed(f"the WebSocket is closed; {kind} cannot be sent")

    async def send_open(self, kind: str, message: dict[str, Any]) -> None:
        if kind == "websocket.send":
            await self.writable.wait()
            if self.protocol.state is not State.OPEN:
                raise WebSocketClosed("the WebSocket is closing")
            data = message.get("bytes")
            if data is not None:
                self.protocol.send_binary(data)
            else:
                self.protocol.send_text(message["text"].encode())
            self.counts.messages_out += 1
            self.flush()
        elif kind == "websocket.close":
            if self.protocol.state is State.OPEN:
                self.protocol.send_close(message.get("code") or 1000, message.get("reason") or "")
                self.flush()
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r} on an open WebSocket")

    def send_handshake(self, kind: str, message: dict[str, Any]) -> None:
        if kind == "websocket.accept":
            self.accept(message)
        elif kind == "websocket.close":  # denied before the handshake: 403, as the spec says
            self.counts.refuse("denied")
            self.reply(self.protocol.reject(HTTPStatus.FORBIDDEN, "Forbidden\n"))
        elif kind == "websocket.http.response.start":
            self.denial = (int(message["status"]), list(message.get("headers", [])), bytearray())
            self.phase = "denying"
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r} before the WebSocket was accepted")

    def accept(self, message: dict[str, Any]) -> None:
        assert self.response is not None
        chosen = message.get("subprotocol")
        if chosen is not None:
            if chosen not in self.scope["subprotocols"]:
                raise RuntimeError(f"subprotocol {chosen!r} was not offered by the client")
            self.response.headers["Sec-WebSocket-Protocol"] = chosen
        for name, value in message.get("headers", []):
            self.response.headers[name.decode("latin-1")] = value.decode("latin-1")
        self.transport.write(self.response.serialize())
        self.phase = "open"
        if self.accept_timer is not None:
            self.accept_timer.cancel()
            self.accept_timer = None
        self.schedule_ping()
        self.reading_paused = False
        self.transport.resume_reading()
        if self.pending:
            data, self.pending = bytes(self.pending), bytearray()
            self.data_received(data)

    def send_denial(self, kind: str, message: dict[str, Any]) -> None:
        assert self.denial is not None
        if kind != "websocket.http.response.body":
            raise RuntimeError(f"expected websocket.http.response.body, got {kind!r}")
        status, headers, body = self.denial
        body += message.get("body", b"")
        if message.get("more_body", False):
            return
        fields = Headers([(n.decode("latin-1"), v.decode("latin-1")) for n, v in headers])
        fields["Content-Length"] = str(len(body))
        fields["Connection"] = "close"
        self.counts.refuse("denied")
        self.reply(Response(status, phrase(status), fields, bytes(body)))

    # -- asyncio.Protocol -----------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.phase != "open":
            self.pending += data
            return
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Frame):
                self.on_frame(event.opcode, bytes(event.data), event.fin)
        self.flush()
        if not self.reading_paused and self.inbox.qsize() >= QUEUE_LIMIT:
            self.reading_paused = True  # the application is behind: let the kernel hold the rest
            self.transport.pause_reading()

    def on_frame(self, opcode: Opcode, data: bytes, fin: bool) -> None:
        if opcode in (Opcode.TEXT, Opcode.BINARY):
            self.message = []
            self.decoder = codecs.getincrementaldecoder("utf-8")() if opcode is Opcode.TEXT else None
        if opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
            self.on_data(data, fin)
        elif opcode is Opcode.PONG and self.ping is not None and bytes(data) == self.ping:
            self.ping = None
        elif opcode is Opcode.CLOSE:
            close = self.protocol.close_rcvd
            self.disconnect(close.code if close is not None else NO_STATUS, close.reason if close else "")

    def on_data(self, data: bytes, fin: bool) -> None:
        try:
            self.message.append(self.decoder.decode(data, fin) if self.decoder else bytes(data))
        except UnicodeDecodeError:
            self.protocol.fail(1007, "invalid UTF-8 in a text message")
            return
        if fin:
            self.counts.messages_in += 1
            if self.decoder is not None:
                self.inbox.put_nowait({"type": "websocket.receive", "text": "".join(self.message)})
            else:
                self.inbox.put_nowait({"type": "websocket.receive", "bytes": b"".join(self.message)})
            self.message = []

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self.accept_timer, self.ping_timer, self.close_timer):
            if timer is not None:
                timer.cancel()
        self.protocol.receive_eof()
        close = self.protocol.close_rcvd or self.protocol.close_sent
        self.disconnect(close.code if close is not None else ABNORMAL, close.reason if close else "")
        self.phase = "closed"
        self.writable.set()  # a send waiting for the client wakes up to WebSocketClosed
        self.on_end(self)

    # -- closing ---------------------------------------------------------------------

    def flush(self) -> None:
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.transport.write(chunk)
            else:  # the protocol's end: the server closes the TCP connection
                self.transport.close()
        if self.protocol.close_expected() and self.close_timer is None and self.phase == "open":
            self.close_timer = self.loop.call_later(CLOSE_TIMEOUT, self.transport.abort)

    def disconnect(self, code: int, reason: str) -> None:
        if not self.disconnected:
            self.disconnected = True
            self.close_code = code
            self.counts.closed(code)
            self.inbox.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})

    def close(self, code: int, reason: str) -> None:
        """The server ends an open session (the worker is draining)."""
        if self.phase == "open" and self.protocol.state is State.OPEN:
            self.protocol.send_close(code, reason)
            self.flush()
        elif self.phase != "closed":
            self.transport.close()

    def reply(self, response: Response) -> None:
        """An HTTP response instead of the handshake; the connection ends with it."""
        self.transport.write(response.serialize())
        self.transport.close()
        self.phase = "closed"
        self.disconnect(ABNORMAL, "")

    def fail_handshake(self, status: int) -> None:
        text = f"{status} {phrase(status)}\n"
        self.counts.refuse("error" if status == 500 else "timeout")
        self.reply(self.protocol.reject(status, text))

    # -- keepalive -------------------------------------------------------------------

    def schedule_ping(self) -> None:
        if self.limits.ping_interval:
            self.ping_timer = self.loop.call_later(self.limits.ping_interval, self.send_ping)

    def send_ping(self) -> None:
        self.ping_timer = None
        if self.phase != "open" or self.protocol.state is not State.OPEN:
            return
        self.ping = os.urandom(4)
        self.protocol.send_ping(self.ping)
        self.flush()
        self.ping_timer = self.loop.call_later(self.limits.ping_timeout, self.check_pong)

    def check_pong(self) -> None:
        self.ping_timer = None
        if self.ping is not None and self.protocol.state is State.OPEN:
            self.protocol.fail(INTERNAL_ERROR, "keepalive ping timeout")
            self.flush()
        elif self.phase == "open":
            self.schedule_ping()

    @property
    def duration(self) -> float:
        return time.monotonic() - self.started


def phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
