"""The probe's Tornado application. Never imports Django: probes bypass the app entirely."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import tornado.web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from supervisor import health
from supervisor.options import Options
from supervisor.probe import metrics
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


class MetricsHandler(tornado.web.RequestHandler):
    def initialize(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def get(self) -> None:
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.set_header("Cache-Control", "no-store")
        self.finish(generate_latest(self.registry))


def make_app(options: Options, state: ProbeState) -> tornado.web.Application:
    routes: list[Any] = [
        (options.liveness_probe, ProbeHandler, {"state": state, "check": health.alive}),
        (options.readiness_probe, ProbeHandler, {"state": state, "check": health.ready}),
        (options.startup_probe, ProbeHandler, {"state": state, "check": health.startup}),
    ]
    if not options.no_metrics:
        routes.append((options.metrics, MetricsHandler, {"registry": metrics.registry(state)}))
    return tornado.web.Application(routes, log_function=request_logger(options.log_probes))


def request_logger(log_probes: bool) -> Callable[[tornado.web.RequestHandler], None]:
    """Probe requests are logged at INFO with LOG_PROBES, else only at DEBUG."""
    level = logging.INFO if log_probes else logging.DEBUG

    def log_request(handler: tornado.web.RequestHandler) -> None:
        log.log(
            level,
            "%s %s %s %d %.2fms",
            handler.request.remote_ip,
            handler.request.method,
            handler.request.uri,
            handler.get_status(),
            1000 * handler.request.request_time(),
        )

    return log_request
