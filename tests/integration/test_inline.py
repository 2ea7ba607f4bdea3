"""Routes that prove quick and CPU-bound move inline onto the event loop; slow ones go back."""

import http.client
import threading
import time

import pytest

from tests.serving import serving, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

INLINE = "GET /sleep is quick and CPU-bound: it runs inline on the event loop now"


def fetch(conn, path):
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, response.read()


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


def test_waiting_routes_stay_on_the_threads_and_no_inline_keeps_every_route_there():
    for args, path in (((), "/sleep?s=0.005"), (("--no-inline",), "/hello")):
        with serving(*args) as server:
            conn = http.client.HTTPConnection("127.0.0.1", server.app_port, timeout=10)
            try:
                for _ in range(150):  # several times what a quick route needs to go inline
                    assert fetch(conn, path)[0] == 200
            finally:
                conn.close()
            assert "runs inline" not in server.output, server.output
