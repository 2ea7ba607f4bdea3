"""Where routes run, learned by the worker: inline, one at a time, or back on the shared threads."""

import http.client
import re
import threading
import time

import pytest

from tests.serving import serving, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

INLINE = "GET /sleep runs inline on the event loop now"


def fetch(conn, path):
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, response.read()


def metrics(server):
    return server.request("GET", "/metrics", port=server.probe_port)[2].decode()


def test_a_quick_route_goes_inline_one_slow_run_sends_it_back_to_the_threads():
    with serving() as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.app_port, timeout=10)
        try:
            # The example's sleep view without sleeping computes only: it qualifies.
            wait_until(
                lambda: fetch(conn, "/sleep?s=0") == (200, b"slept 0.0s\n") and INLINE in server.output,
                60,
                "the route to go inline",
                lambda: server.output,
            )
            inline_route = re.compile(r'hurricane_routes\{[^}]*place="inline"[^}]*\} 1\.0')
            wait_until(lambda: inline_route.search(metrics(server)), 10, "the route in /metrics")
            assert fetch(conn, "/sleep?s=0.1") == (200, b"slept 0.1s\n")
            server.wait_for_line(r"GET /sleep runs on the view threads again: one run took \d+ ms")
        finally:
            conn.close()
        # Back on a thread: a long sleep no longer holds up the worker's other requests.
        slow = threading.Thread(target=server.get, args=("/sleep?s=2",), kwargs={"timeout": 10})
        slow.start()
        wait_until(lambda: server.probe("/alive")[1]["workers"][0]["in_flight"] >= 1, 10, "the slow request")
        began = time.monotonic()
        assert server.get("/hello") == (200, b"Hello, world!\n")
        assert time.monotonic() - began < 1.0
        slow.join(10)


def test_waiting_routes_stay_on_the_threads_and_no_adaptive_views_keeps_every_route_there():
    for args, path in (((), "/sleep?s=0.005"), (("--no-adaptive-views",), "/hello")):
        with serving(*args) as server:
            conn = http.client.HTTPConnection("127.0.0.1", server.app_port, timeout=10)
            try:
                for _ in range(150):  # several times what a quick route needs to go inline
                    assert fetch(conn, path)[0] == 200
            finally:
                conn.close()
            assert "runs inline" not in server.output, server.output
            assert "one request at a time" not in server.output, server.output


def test_cpu_bound_views_that_take_turns_with_the_gil_run_one_at_a_time():
    with serving() as server:
        stop = threading.Event()
        statuses = []

        def client():
            conn = http.client.HTTPConnection("127.0.0.1", server.app_port, timeout=30)
            try:
                for _ in range(400):  # bounded; the route moves after a few dozen
                    if stop.is_set():
                        break
                    statuses.append(fetch(conn, "/cpu?n=300000")[0])
            finally:
                conn.close()

        clients = [threading.Thread(target=client) for _ in range(2)]
        for thread in clients:
            thread.start()
        try:
            server.wait_for_line(r"GET /cpu runs one request at a time on a thread of its own now", 90)
            wait_until(lambda: len(statuses) > 40, 30, "more /cpu requests")
            began = time.monotonic()
            assert server.get("/hello") == (200, b"Hello, world!\n")  # the loop is not held up
            assert time.monotonic() - began < 1.0
        finally:
            stop.set()
            for thread in clients:
                thread.join(60)
        assert statuses and set(statuses) == {200}


def test_with_two_workers_a_busy_one_gives_keep_alive_connections_back():
    # Four clients keep both workers' view threads busy with a CPU-bound view; now and then
    # a response closes its connection (hurricane/worker/handoff.py) and the client reconnects.
    with serving("--workers", "2") as server:
        stop = threading.Event()
        closes, statuses = [], []

        def client():
            conn = http.client.HTTPConnection("127.0.0.1", server.app_port, timeout=30)
            try:
                for _ in range(600):  # bounded: a worker gives one back every few seconds
                    if stop.is_set():
                        break
                    conn.request("GET", "/cpu?n=200000")
                    response = conn.getresponse()
                    response.read()
                    statuses.append(response.status)
                    if response.getheader("Connection") == "close":
                        closes.append(1)  # http.client reconnects for the next request
            finally:
                conn.close()

        clients = [threading.Thread(target=client) for _ in range(4)]
        for thread in clients:
            thread.start()
        try:
            wait_until(lambda: closes, 60, "a keep-alive connection given back", lambda: server.output)
        finally:
            stop.set()
            for thread in clients:
                thread.join(60)
        assert statuses and set(statuses) == {200}
