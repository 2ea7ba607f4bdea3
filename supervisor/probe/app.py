"""The probe's HTTP front: Tornado's HTTP/1.1 server with a minimal request delegate.

Never imports Django: probes bypass the app entirely. A probe has to answer
quickly on a saturated node, and every microsecond of CPU it needs is a chance
to wait behind the workers, so requests skip tornado.web's per-request handler
machinery (it costs about 0.4 ms a request here): a route is a function that
returns the status, content type and body.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from http import HTTPStatus

import tornado.httputil
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from tornado.http1connection import HTTP1Connection

from supervisor import health
from supervisor.options import Options
from supervisor.probe import metrics
from supervisor.probe.state import Check, ProbeState

log = logging.getLogger("hurricane.probe")

Response = tuple[int, str, bytes]
Route = Callable[[], Response]
JSON = "application/json"
ALLOWED = "GET, HEAD"


class ProbeServer(tornado.httputil.HTTPServerConnectionDelegate):
    """Answers GET and HEAD on a fixed set of paths; probe lines are logged at INFO only with LOG_PROBES."""

    def __init__(self, routes: dict[str, Route], log_probes: bool) -> None:
        self.routes = routes
        self.log_level = logging.INFO if log_probes else logging.DEBUG

    def start_request(
        self, server_conn: object, request_conn: tornado.httputil.HTTPConnection
    ) -> tornado.httputil.HTTPMessageDelegate:
        return ProbeRequest(self, request_conn)

    def respond(self, method: str, path: str) -> Response:
        route = self.routes.get(path)
        if route is None:
            return 404, JSON, b'{"status": "not found"}'
        if method not in ("GET", "HEAD"):
            return 405, JSON, b'{"status": "method not allowed"}'
        return route()


class ProbeRequest(tornado.httputil.HTTPMessageDelegate):
    def __init__(self, server: ProbeServer, connection: tornado.httputil.HTTPConnection) -> None:
        self.server = server
        self.connection = connection
        self.began = time.perf_counter()
        self.method = "GET"
        self.uri = "/"

    def headers_received(
        self,
        start_line: tornado.httputil.RequestStartLine | tornado.httputil.ResponseStartLine,
        headers: tornado.httputil.HTTPHeaders,
    ) -> None:
        assert isinstance(start_line, tornado.httputil.RequestStartLine)
        self.method, self.uri = start_line.method, start_line.path

    def finish(self) -> None:
        status, content_type, body = self.server.respond(self.method, self.uri.split("?", 1)[0])
        headers = tornado.httputil.HTTPHeaders(
            {"Content-Type": content_type, "Content-Length": str(len(body)), "Cache-Control": "no-store"}
        )
        if status == 405:
            headers["Allow"] = ALLOWED
        reason = HTTPStatus(status).phrase
        # HEAD: same headers, no body (the connection refuses a body after a HEAD request).
        chunk = None if self.method == "HEAD" else body
        self.connection.write_headers(
            tornado.httputil.ResponseStartLine("HTTP/1.1", status, reason), headers, chunk
        )
        self.connection.finish()
        log.log(
            self.server.log_level,
            "%s %s %s %d %.2fms",
            remote_ip(self.connection),
            self.method,
            self.uri,
            status,
            1000 * (time.perf_counter() - self.began),
        )


def remote_ip(connection: tornado.httputil.HTTPConnection) -> str:
    context = connection.context if isinstance(connection, HTTP1Connection) else None
    return str(getattr(context, "remote_ip", "-"))


def make_server(options: Options, state: ProbeState) -> ProbeServer:
    routes: dict[str, Route] = {
        options.liveness_probe: probe_route(state, health.alive),
        options.readiness_probe: probe_route(state, health.ready),
        options.startup_probe: probe_route(state, health.startup),
    }
    if not options.no_metrics:
        registry = metrics.registry(state)
        routes[options.metrics] = lambda: (200, CONTENT_TYPE_LATEST, generate_latest(registry))
    return ProbeServer(routes, options.log_probes)


def probe_route(state: ProbeState, check: Check) -> Route:
    def answer() -> Response:
        status, body = state.answer(check)
        return status, JSON, json.dumps(body).encode()

    return answer
