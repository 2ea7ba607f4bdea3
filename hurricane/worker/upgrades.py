"""WebSocket upgrades on the app port: refused or handed to a session of ``settings.ASGI_APPLICATION``.

An HTTP connection whose request asks for ``Upgrade: websocket`` gives its
transport to a ``websocket.Session``. This module decides whether it may (the
version, the per-worker cap, a draining worker), builds the ASGI scope, keeps
the open sessions, counts them for the heartbeat, logs each one's end on the
access log, and closes them when the worker drains.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from hurricane.worker.asgi import ASGIApp
from hurricane.worker.connection import Connection
from hurricane.worker.request import RequestHead
from hurricane.worker.response import error_response
from hurricane.worker.websocket import Limits, Session, WebSocketCounts
from supervisor.options import Options

log = logging.getLogger("hurricane.worker")
access_log = logging.getLogger("hurricane.access")

VERSION = "13"  # RFC 6455


class WebSocketUpgrades:
    def __init__(self, app: ASGIApp, options: Options, on_end: Callable[[], None]) -> None:
        self.app = app
        self.options = options
        self.on_end = on_end  # a session ended: its connection no longer counts
        self.lifespan_state: dict[str, Any] | None = None
        self.cap = options.max_websockets
        self.limits = Limits(
            max_message=options.websocket_max_message,
            ping_interval=options.websocket_ping_interval or 0.0,
            ping_timeout=options.websocket_ping_timeout,
            accept_timeout=options.read_timeout,
            compression=not options.no_websocket_compression,
        )
        self.sessions: set[Session] = set()
        self.counts = WebSocketCounts()
        self.refusing = False  # the server is shutting down: no new WebSockets

    def upgrade(self, conn: Connection, head: RequestHead, environ: dict[str, Any]) -> None:
        version = next((v for n, v in head.headers if n == "sec-websocket-version"), None)
        if version is not None and version.strip() != VERSION:
            self.refuse(conn, 426, "version", [("Sec-WebSocket-Version", VERSION)])
        elif self.refusing:
            self.refuse(conn, 503, "draining")
        elif self.cap is not None and len(self.sessions) >= self.cap:
            self.refuse(conn, 503, "capacity")
        else:
            self.open(conn, head, environ)

    def open(self, conn: Connection, head: RequestHead, environ: dict[str, Any]) -> None:
        from websockets.datastructures import Headers
        from websockets.http11 import Request

        request = Request(head.target, Headers([(n, v) for n, v in head.headers]), method=head.method)
        transport, leftover = conn.hand_over()
        session = Session(
            self.app, transport, self.scope(head, environ), request, self.limits, self.counts, self.ended
        )
        transport.set_protocol(session)
        self.sessions.add(session)
        session.start(leftover)

    def refuse(
        self, conn: Connection, status: int, reason: str, headers: list[tuple[str, str]] | None = None
    ) -> None:
        self.counts.refuse(reason)
        log.info("refused a WebSocket from %s with %d (%s)", conn.peer[0], status, reason)
        conn.write(error_response(status, extra=headers or []))
        conn.linger()

    def ended(self, session: Session) -> None:
        self.sessions.discard(session)
        self.on_end()
        if not access_log.isEnabledFor(logging.INFO):
            return
        scope = session.scope
        fields = {
            "remote": scope["client"][0],
            "path": scope["path"],
            "close_code": session.close_code,
            "duration_s": round(session.duration, 3),
        }
        access_log.info(
            "%s WEBSOCKET %s closed %d after %.1fs",
            fields["remote"],
            fields["path"],
            session.close_code,
            session.duration,
            extra=fields,
        )

    def scope(self, head: RequestHead, environ: dict[str, Any]) -> dict[str, Any]:
        script_name = environ["SCRIPT_NAME"]
        offered = [
            p.strip()
            for n, v in head.headers
            if n == "sec-websocket-protocol"
            for p in v.split(",")
            if p.strip()
        ]
        scope: dict[str, Any] = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.5"},
            "http_version": head.version.removeprefix("HTTP/"),
            "scheme": "wss" if environ["wsgi.url_scheme"] == "https" else "ws",
            "path": (script_name + environ["PATH_INFO"]).encode("latin-1").decode("utf-8", "replace"),
            "raw_path": head.target.partition("?")[0].encode("latin-1"),
            "query_string": environ["QUERY_STRING"].encode("latin-1"),
            "root_path": script_name,
            "headers": [(n.encode("latin-1"), v.encode("latin-1")) for n, v in head.headers],
            "client": [environ["REMOTE_ADDR"], int(environ["REMOTE_PORT"])],
            "server": [environ["SERVER_NAME"], int(environ["SERVER_PORT"])],
            "subprotocols": offered,
            "extensions": {"websocket.http.response": {}},
        }
        if self.lifespan_state is not None:
            scope["state"] = dict(self.lifespan_state)
        return scope

    async def drain(self, timeout: float, code: int) -> None:
        """Refuse new WebSockets; give the open ones ``timeout`` to end, then close them with ``code``."""
        self.refusing = True
        deadline = time.monotonic() + timeout
        while self.sessions and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self.sessions:
            reason = "server restarting" if code == 1012 else "server shutting down"
            log.info("closing %d WebSocket(s) with %d", len(self.sessions), code)
            for session in list(self.sessions):
                session.close(code, reason)
        # The close handshake: the clients answer, or the sessions time out themselves.
        deadline = time.monotonic() + 6.0
        while self.sessions and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
