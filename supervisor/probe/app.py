"""The probe's Tornado application. Never imports Django: probes bypass the app entirely."""

from __future__ import annotations

import json
import logging
from typing import Any

import tornado.web

from supervisor import health
from supervisor.options import Options
from supervisor.probe.state import Check, ProbeState

log = logging.getLogger("hurricane.probe")


class ProbeHandler(tornado.web.RequestHandler):
    def initialize(self, state: ProbeState, check: Check) -> None:
        self.state = state
        self.check = check

    def get(self) -> None:
        status, body = self.state.answer(self.check)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(body))

    head = get


def make_app(options: Options, state: ProbeState) -> tornado.web.Application:
    routes: list[Any] = [
        (options.liveness_probe, ProbeHandler, {"state": state, "check": health.alive}),
        (options.readiness_probe, ProbeHandler, {"state": state, "check": health.ready}),
        (options.startup_probe, ProbeHandler, {"state": state, "check": health.startup}),
    ]
    return tornado.web.Application(routes, log_function=_log_request)


def _log_request(handler: tornado.web.RequestHandler) -> None:
    log.debug(
        "%s %s %d %.2fms",
        handler.request.method,
        handler.request.uri,
        handler.get_status(),
        1000 * handler.request.request_time(),
    )
