"""The probe's HTTP front, served by a real Tornado server in this process, driven with raw requests."""

import asyncio
import json
import logging
import socket

import pytest
import tornado.httpserver

from supervisor.options import resolve
from supervisor.probe.app import make_server
from supervisor.probe.state import ProbeState
from tests.unit.test_health import snapshot, worker

pytestmark = pytest.mark.timeout(30)


def exchange(state, *requests, options=None):
    """Send each raw request on its own connection; return the raw responses."""

    async def run():
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sock.setblocking(False)
        server = tornado.httpserver.HTTPServer(make_server(options or state.options, state))
        server.add_sockets([sock])
        answers = []
        try:
            for request in requests:
                reader, writer = await asyncio.open_connection(*sock.getsockname())
                writer.write(request)
                answers.append(await asyncio.wait_for(reader.read(), 10))
                writer.close()
        finally:
            server.stop()
        return answers

    return asyncio.run(run())


def parse(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def get(path, method="GET"):
    return f"{method} {path} HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n".encode()


def test_answers_from_the_latest_snapshot():
    state = ProbeState(resolve({}))
    [before] = exchange(state, get("/ready"))
    state.update(snapshot(worker()))
    alive, ready, startup = exchange(state, get("/alive"), get("/ready?from=kubelet"), get("/startup"))
    status, headers, body = parse(before)
    assert status == 503 and json.loads(body)["reason"] == "the supervisor has not reported yet"
    for raw in (alive, ready, startup):
        status, headers, body = parse(raw)
        assert status == 200, body
        assert headers["Content-Type"] == "application/json" and headers["Cache-Control"] == "no-store"
        assert int(headers["Content-Length"]) == len(body)
        assert json.loads(body)["workers"][0]["pid"] == 10


def test_a_failing_verdict_is_a_503_with_its_reason():
    state = ProbeState(resolve({}))
    state.update(snapshot(worker(), phase="draining"))
    status, _, body = parse(exchange(state, get("/ready"))[0])
    assert status == 503 and json.loads(body)["status"] == "failing"
    assert json.loads(body)["reason"] == "shutting down"


def test_head_has_the_headers_and_no_body_and_keeps_the_connection_usable():
    state = ProbeState(resolve({}))
    state.update(snapshot(worker()))
    two = get("/ready", "HEAD").replace(b"Connection: close\r\n", b"") + get("/ready")
    [raw] = exchange(state, two)
    first, _, rest = raw.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 200") and b"Content-Length: " in first
    assert rest.startswith(b"HTTP/1.1 200")  # the HEAD answer carried no body
    assert json.loads(parse(rest)[2])["status"] == "ok"


def test_unknown_paths_other_methods_and_garbage():
    state = ProbeState(resolve({}))
    state.update(snapshot(worker()))
    missing, post, garbage = exchange(state, get("/nope"), get("/ready", "POST"), b"NOT HTTP\r\n\r\n")
    assert parse(missing)[0] == 404
    status, headers, _ = parse(post)
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    assert garbage == b"" or garbage.startswith(b"HTTP/1.1 400")


def test_custom_paths_and_metrics_switch():
    options = resolve({"readiness_probe": "/healthz/ready", "no_metrics": "1"})
    state = ProbeState(options)
    state.update(snapshot(worker()))
    ready, old, metrics = exchange(state, get("/healthz/ready"), get("/ready"), get("/metrics"))
    assert parse(ready)[0] == 200 and parse(old)[0] == 404 and parse(metrics)[0] == 404


def test_metrics_are_prometheus_text():
    state = ProbeState(resolve({}))
    state.update(snapshot(worker()))
    status, headers, body = parse(exchange(state, get("/metrics"))[0])
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=")
    assert b"hurricane_workers" in body


@pytest.mark.parametrize(("log_probes", "level"), [(False, logging.DEBUG), (True, logging.INFO)])
def test_probe_lines_are_info_only_with_log_probes(caplog, log_probes, level):
    state = ProbeState(resolve({"log_probes": str(log_probes)}))
    state.update(snapshot(worker()))
    with caplog.at_level(logging.DEBUG, logger="hurricane.probe"):
        exchange(state, get("/alive?x=1"))
    [record] = [r for r in caplog.records if r.name == "hurricane.probe"]
    assert record.levelno == level
    assert record.getMessage().startswith("127.0.0.1 GET /alive?x=1 200 ")
