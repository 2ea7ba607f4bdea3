"""Async views run on the worker's event loop, beside sync views, with database access."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from tests.serving import serve_env, serving, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    marker = tmp_path_factory.mktemp("async") / "cancelled.json"
    with serving("--settings", "async_settings", env=serve_env(ASYNC_MARKER=str(marker))) as server:
        server.marker = marker
        yield server
        # One traceback: the view that always fails (logged by django.request).
        assert server.output.count("Traceback (most recent call last)") == 1, server.output


def test_an_async_view_and_its_middleware_run_on_the_workers_loop_thread(server):
    status, body = server.get("/a/where")
    assert status == 200
    where = json.loads(body)
    # The loop's thread, and the middleware's hooks too: no thread hop for either.
    assert where["thread"] == "MainThread" and where["hooks"] == "MainThread"
    _, headers, _ = server.request("GET", "/a/where")
    assert headers["X-Hooks-Thread"] == "MainThread"


def test_an_async_view_reaches_the_database():
    with serving("--settings", "async_settings") as server:
        status, body = server.get("/a/notes?text=hello")
        assert status == 200 and json.loads(body)["latest"] == "hello"
        assert server.get("/notes")[0] == 200  # the sync view sees the same database


def test_sync_and_async_views_are_served_at_once_by_one_worker(server):
    results: dict[str, tuple[int, float]] = {}

    def fetch(name: str, path: str) -> None:
        started = time.monotonic()
        status, _ = server.get(path, timeout=20)
        results[name] = (status, time.monotonic() - started)

    started = time.monotonic()
    clients = [
        threading.Thread(target=fetch, args=("sync", "/sleep?s=1")),
        *(threading.Thread(target=fetch, args=(f"async{i}", "/a/sleep?s=1")) for i in range(20)),
    ]
    for client in clients:
        client.start()
    for client in clients:
        client.join(20)
    assert all(status == 200 for status, _ in results.values()), results
    assert time.monotonic() - started < 2.5  # side by side, not one after the other
    assert server.worker_pids() == server.worker_pids()[:1]


def test_a_streaming_response_from_an_async_iterator_is_streamed(server):
    with socket.create_connection(("127.0.0.1", server.app_port), timeout=10) as sock:
        sock.sendall(b"GET /a/stream?chunks=3&delay=0.5 HTTP/1.1\r\nHost: x\r\n\r\n")
        started = time.monotonic()
        first = sock.recv(65536)
        assert b"chunk 0" in first
        assert time.monotonic() - started < 0.4  # before the generator's second chunk
        data = first
        while not data.endswith(b"0\r\n\r\n"):
            data += sock.recv(65536)
    assert b"chunk 2" in data and b"Transfer-Encoding: chunked" in data


def test_an_async_view_that_raises_is_a_500_and_logged(server):
    assert server.get("/a/fail")[0] == 500
    server.wait_for_line(r"django\.request\[\d+\]: Internal Server Error: /a/fail")
    assert server.get("/a/where")[0] == 200


def test_a_client_that_leaves_cancels_its_async_view(server):
    sock = socket.create_connection(("127.0.0.1", server.app_port), timeout=10)
    sock.sendall(b"GET /a/abandoned HTTP/1.1\r\nHost: x\r\n\r\n")
    wait_until(lambda: server.probe("/alive")[1]["workers"][0]["in_flight"] == 1, 10, "the view to start")
    sock.close()
    wait_until(server.marker.exists, 10, "the view's cancellation", lambda: server.output)
    wait_until(lambda: server.probe("/alive")[1]["workers"][0]["in_flight"] == 0, 10, "nothing in flight")
    server.wait_for_line(r"GET /a/abandoned 499")
