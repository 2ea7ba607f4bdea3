"""The worker's HTTP layer over real sockets: WSGI correctness, streaming, keep-alive, bad input.

One server for the module runs the example project through ``wsgiref.validate``
(tests/http_settings.py) with short timeouts, so every request here is also a
PEP 3333 check.
"""

import hashlib
import http.client
import json
import socket
import time
from pathlib import Path

import pytest

from tests.serving import serving

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

TIMEOUT = 1.5  # --read-timeout and --keep-alive-timeout of the module's server


@pytest.fixture(scope="module")
def server():
    args = [
        "--settings",
        "http_settings",
        "--read-timeout",
        str(TIMEOUT),
        "--keep-alive-timeout",
        str(TIMEOUT),
    ]
    args += ["--max-body-size", "8MiB", "--max-buffer-size", "64KiB", "--threads", "4"]
    with serving(*args) as server:
        [server.worker] = server.worker_pids()
        yield server
        # Nothing in this module may crash, restart or stall the worker.
        assert server.worker_pids() == [server.worker], server.output
        assert server.get("/hello") == (200, b"Hello, world!\n")
        assert "AssertionError" not in server.output and "WSGIWarning" not in server.output, server.output


def connect(server, timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.app_port), timeout=timeout)


def exchange(server, raw: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes and read until the server closes the connection."""
    with connect(server, timeout) as sock:
        sock.sendall(raw)
        return read_all(sock)


def read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def get_json(server, path: str, **kwargs) -> dict:
    status, _, body = server.request("GET", path, **kwargs)
    assert status == 200, body
    return json.loads(body)


# -- the WSGI environ -------------------------------------------------------------------


def test_script_name_comes_from_force_script_name_and_is_stripped_from_path_info(server):
    env = get_json(server, "/app/environ?x=1")
    assert (env["SCRIPT_NAME"], env["PATH_INFO"], env["path"]) == ("/app", "/environ", "/app/environ")
    assert env["QUERY_STRING"] == "x=1" and env["forbidden"] == []
    assert env["absolute"].startswith("http://127.0.0.1:")


def test_unicode_paths_are_decoded_as_django_expects(server):
    env = get_json(server, "/app/environ/%C3%A4%20%E2%82%AC/%F0%9F%8C%80")
    assert env["rest"] == "ä €/🌀"
    assert env["path"] == "/app/environ/ä €/🌀"


def test_forwarded_headers_are_ignored_without_trusted_proxies(server):
    headers = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    env = get_json(server, "/environ", headers=headers)
    assert (env["REMOTE_ADDR"], env["wsgi.url_scheme"]) == ("127.0.0.1", "http")


def test_forwarded_headers_are_honoured_from_trusted_proxies():
    with serving("--settings", "http_settings", "--trusted-proxies", "127.0.0.0/8,10.0.0.0/8") as server:
        headers = {"X-Forwarded-For": "203.0.113.9, 10.1.2.3", "X-Forwarded-Proto": "https"}
        env = get_json(server, "/environ", headers=headers)
    assert (env["REMOTE_ADDR"], env["wsgi.url_scheme"]) == ("203.0.113.9", "https")


def test_request_bodies_of_every_framing_arrive_whole(server):
    payload = bytes(range(256)) * 4096  # 1 MiB: beyond --max-buffer-size, so spooled to disk
    expected = {"size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}
    status, _, body = server.request("POST", "/digest", body=payload)
    assert (status, json.loads(body)) == (200, expected)
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in split(payload, 100_000)) + b"0\r\n\r\n"
    head = b"POST /digest HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    response = exchange(server, head + chunked)
    assert response.startswith(b"HTTP/1.1 200 OK\r\n")
    assert json.loads(response.split(b"\r\n\r\n", 1)[1]) == expected


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_expect_100_continue_is_answered_before_the_body(server):
    with connect(server) as sock:
        sock.sendall(b"POST /digest HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(b"hello")
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert json.loads(response.read())["size"] == 5


# -- connections ------------------------------------------------------------------------


def test_keep_alive_and_head_share_one_connection(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.app_port, timeout=5)
    try:
        conn.request("GET", "/hello")
        first = conn.getresponse()
        assert first.read() == b"Hello, world!\n"
        sock = conn.sock
        conn.request("HEAD", "/hello")
        head = conn.getresponse()
        assert head.status == 200 and head.getheader("Content-Length") == "14" and head.read() == b""
        conn.request("HEAD", "/stream?chunks=2&delay=0")
        assert conn.getresponse().read() == b""
        conn.request("GET", "/hello")
        assert conn.getresponse().read() == b"Hello, world!\n"
        assert conn.sock is sock, "the connection was kept for every request"
    finally:
        conn.close()


def test_pipelined_requests_are_answered_in_order(server):
    raw = b"GET /app/environ?n=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /app/environ?n=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    data = exchange(server, raw)
    assert data.count(b"HTTP/1.1 200 OK") == 2
    assert data.index(b'"n=1"') < data.index(b'"n=2"')


def test_http10_closes_after_the_response(server):
    data = exchange(server, b"GET /hello HTTP/1.0\r\n\r\n")
    assert data.startswith(b"HTTP/1.0 200 OK\r\n") and data.endswith(b"Hello, world!\n")


def test_a_failing_view_is_500_and_the_connection_survives_it(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.app_port, timeout=5)
    try:
        conn.request("GET", "/boom")
        response = conn.getresponse()
        assert response.status == 500 and b"Server Error" in response.read()
        conn.request("GET", "/hello")
        assert conn.getresponse().read() == b"Hello, world!\n"
    finally:
        conn.close()


# -- streaming --------------------------------------------------------------------------


def test_streaming_response_sends_each_chunk_as_it_is_produced(server):
    with connect(server, timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /slow-stream?chunks=8&delay=0.25 HTTP/1.1\r\nHost: x\r\n\r\n")
        first = sock.recv(65536)
        first_at = time.monotonic() - started
        response = first + read_until(sock, b"0\r\n\r\n")
        ended_at = time.monotonic() - started
    assert b"Transfer-Encoding: chunked\r\n" in response
    assert ended_at >= 1.75, "the view sleeps 8 x 0.25s"
    assert first_at < 1.0, f"first byte after {first_at:.2f}s of {ended_at:.2f}s"


def read_until(sock: socket.socket, end: bytes) -> bytes:
    data = b""
    while not data.endswith(end):
        chunk = sock.recv(65536)
        assert chunk, "connection closed early"
        data += chunk
    return data


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize("path", ["/big-file?mib=256", "/big-stream?mib=256"])
def test_a_slow_client_does_not_make_the_worker_buffer_the_response(server, path):
    before = rss(server.worker)
    with connect(server, timeout=10) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        received = len(sock.recv(65536))
        # The client stops reading for a while (less than --read-timeout): memory must stay flat.
        peak = before
        deadline = time.monotonic() + TIMEOUT / 2
        while time.monotonic() < deadline:
            peak = max(peak, rss(server.worker))
            time.sleep(0.02)
        while received < 256 * 1024 * 1024:
            chunk = sock.recv(1 << 20)
            assert chunk, "connection closed early"
            received += len(chunk)
    assert peak - before < 32 * 1024 * 1024, f"worker grew by {(peak - before) >> 20} MiB"


# -- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /hello HTTP/1.1\r\nBad Header\r\n\r\n", 400),
        (b"GET /hello HTTP/1.1\r\nX: \x01\r\n\r\n", 400),
        (b"GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"GET /hello HTTP/1.1\r\n" + b"X-Big: " + b"a" * 70_000 + b"\r\n\r\n", 431),
        (b"GET /hello HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"\r\n", 431),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"POST /digest HTTP/1.1\r\nHost: x\r\nContent-Length: 9000000\r\n\r\n", 413),
        (b"POST /digest HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        (b"GET /hello HTTP/1.1\r\n\r\n", 400),
        (b"GET /hello HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400),
        (b"POST /digest HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
    ],
    ids=[
        "request-line",
        "header",
        "header-value",
        "two-lengths",
        "big-header",
        "many-headers",
        "long-uri",
        "413",
        "chunk",
        "no-host",
        "two-hosts",
        "unknown-coding",
    ],
)
def test_bad_requests_get_their_status_and_a_closed_connection(server, raw, status):
    response = exchange(server, raw)
    assert status_of(response) == status, response[:200]
    assert b"Connection: close\r\n" in response


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET /hello HTTP/9.9\r\n", 505),
        (b"GET /hello HTTP/1.1\n", 400),
        (b"GET /hello HTTP/1.1\r\nHost: x\nAccept: */*\n", 400),
        (b"GET /hello HTTP/1.1\r\nHost: x\r\nJunk between headers\r\n", 400),
        (b"GET /hello HTTP/1.1\r\nHost: x\r\n folded\r\n", 400),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400),
    ],
    ids=["version", "bare-lf", "bare-lf-fields", "junk-field", "obs-fold", "tls"],
)
def test_a_malformed_line_is_answered_at_once_not_after_the_read_timeout(server, raw, status):
    # No blank line follows: the server must not wait for one.
    with connect(server, timeout=TIMEOUT * 4) as sock:
        started = time.monotonic()
        sock.sendall(raw)
        response = read_all(sock)
        waited = time.monotonic() - started
    assert status_of(response) == status, response[:200]
    assert waited < 0.5, f"answered after {waited:.2f}s"


def test_a_chunked_body_beyond_the_limit_is_413(server):
    with connect(server) as sock:
        sock.sendall(b"POST /digest HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        block = b"100000\r\n" + b"x" * 0x100000 + b"\r\n"
        try:
            for _ in range(10):
                sock.sendall(block)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed while we were still sending
        response = read_all(sock)
    assert status_of(response) == 413


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /hello HTTP/1.1\r\nHost: x\r\n",
        b"POST /digest HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
    ],
    ids=["headers", "body"],
)
def test_a_client_that_never_finishes_its_request_is_cut_off(server, raw):
    with connect(server, timeout=TIMEOUT * 4) as sock:
        sock.sendall(raw)
        started = time.monotonic()
        response = read_all(sock)
        waited = time.monotonic() - started
    assert status_of(response) == 408
    assert TIMEOUT * 0.9 < waited < TIMEOUT * 3


def test_a_trickling_client_is_cut_off_even_while_it_sends(server):
    with connect(server, timeout=TIMEOUT * 4) as sock:
        sock.sendall(b"GET /hello HTTP/1.1\r\n")
        started = time.monotonic()
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            while time.monotonic() - started < TIMEOUT * 4:
                sock.sendall(b"X: y\r\n")
                time.sleep(0.1)
    assert time.monotonic() - started < TIMEOUT * 3


def test_idle_keep_alive_connections_are_closed_after_the_timeout(server):
    with connect(server, timeout=TIMEOUT * 4) as sock:
        sock.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_until(sock, b"Hello, world!\n").startswith(b"HTTP/1.1 200 OK")
        started = time.monotonic()
        assert sock.recv(100) == b""
        assert TIMEOUT * 0.9 < time.monotonic() - started < TIMEOUT * 3


def test_a_flood_of_idle_and_half_sent_connections_does_not_stop_other_clients(server):
    idle = [connect(server) for _ in range(400)]
    slow = [connect(server) for _ in range(100)]
    try:
        for sock in slow:
            sock.sendall(b"GET /hello HTTP/1.1\r\nX-Slow: ")
        for _ in range(5):
            started = time.monotonic()
            assert server.get("/hello") == (200, b"Hello, world!\n")
            assert time.monotonic() - started < 0.5
        # They are all let go after the timeouts.
        for sock in idle[:5]:
            assert sock.recv(100) == b""
        for sock in slow[:5]:
            assert status_of(read_all(sock)) == 408
    finally:
        for sock in idle + slow:
            sock.close()


def test_views_run_inline_with_no_threads():
    with serving("--settings", "http_settings", "--threads", "0") as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.app_port, timeout=10)
        try:
            conn.request("GET", "/hello")
            assert conn.getresponse().read() == b"Hello, world!\n"
            conn.request("GET", "/big-stream?mib=8")
            response = conn.getresponse()
            assert response.getheader("Transfer-Encoding") == "chunked"
            assert len(response.read()) == 8 * 1024 * 1024
            conn.request("HEAD", "/hello")
            assert conn.getresponse().read() == b""
            conn.request("GET", "/boom")
            assert conn.getresponse().read().startswith(b"\n<!doctype html>")
            conn.request("GET", "/pid")
            assert int(conn.getresponse().read()) in server.worker_pids()
            # Database work and async views, which Django refuses in a thread running an event loop.
            for path, body in (("/db", b"1\n"), ("/db-stream", b"0\n1\n2\n"), ("/async", b"async\n")):
                conn.request("GET", path)
                response = conn.getresponse()
                assert (response.status, response.read()) == (200, body), path
        finally:
            conn.close()
