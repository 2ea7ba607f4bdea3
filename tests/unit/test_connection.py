"""The HTTP connection driven on a fake transport: no sockets, no listener, no WSGI."""

import asyncio

import pytest

from hurricane.worker.connection import Connection, State
from supervisor.options import resolve

OPTIONS = resolve({"max_body_size": "1k"})


class FakeTransport(asyncio.Transport):
    def __init__(self):
        super().__init__()
        self.written = bytearray()
        self.closed = self.aborted = self.eof = self.paused = False

    def write(self, data):
        self.written += data

    def write_eof(self):
        self.eof = True

    def close(self):
        self.closed = True

    def abort(self):
        self.aborted = True

    def pause_reading(self):
        self.paused = True

    def resume_reading(self):
        self.paused = False

    def get_extra_info(self, name, default=None):
        return {"peername": ("127.0.0.1", 5555)}.get(name, default)


@pytest.fixture
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def connect(loop):
    handled, registry = [], set()

    def handle(conn, head, body, size):
        handled.append((head, body.read() if body is not None else None, size))

    conn = Connection(loop, OPTIONS, handle, registry)
    transport = FakeTransport()
    conn.connection_made(transport)
    return conn, transport, handled, registry


def test_a_request_is_handed_over_and_a_pipelined_one_waits_for_the_response(loop):
    conn, transport, handled, registry = connect(loop)
    assert registry == {conn}
    conn.data_received(
        b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    assert [(h.method, h.target, body, size) for h, body, size in handled] == [("POST", "/a", b"abc", 3)]
    assert conn.state is State.APP
    conn.finish_response(keep_alive=True)
    assert [h.target for h, _, _ in handled] == ["/a", "/b"]
    conn.connection_lost(None)
    assert registry == set()


def test_a_malformed_request_line_is_refused_with_400_and_the_connection_lingers(loop):
    conn, transport, handled, _ = connect(loop)
    conn.data_received(b"GET / HTTP/1.1 x\r\nHost: x\r\n\r\n")
    assert handled == []
    assert transport.written.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert conn.state is State.LINGER and transport.eof


@pytest.mark.parametrize(
    ("pieces", "status"),
    [
        ([b"GET / HTTP/9.9\r\n"], b"505"),
        ([b"GET / HTTP/1.1\n"], b"400"),
        ([b"GET / HTTP/1.1\r", b"\n", b"Host: x\n"], b"400"),
        ([b"GET / HTTP/1.1\r\nHost: x\r\n", b"Junk between headers\r\n"], b"400"),
        ([b"\x16\x03\x01"], b"400"),
    ],
    ids=["version", "bare-lf", "bare-lf-in-fields", "junk-field", "tls"],
)
def test_a_bad_line_is_refused_as_soon_as_it_is_complete_not_at_the_read_timeout(loop, pieces, status):
    conn, transport, handled, _ = connect(loop)
    for piece in pieces:
        assert conn.state is not State.LINGER
        conn.data_received(piece)
    assert handled == [] and conn.state is State.LINGER
    assert transport.written.startswith(b"HTTP/1.1 " + status)


def test_empty_lines_before_a_request_are_skipped_even_split_in_the_middle(loop):
    conn, transport, handled, _ = connect(loop)
    conn.data_received(b"\r\n\r")
    assert conn.state is State.IDLE
    conn.data_received(b"\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert [h.target for h, _, _ in handled] == ["/"]


def test_a_refused_body_lets_go_of_its_file(loop):
    conn, transport, handled, _ = connect(loop)
    conn.data_received(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
    body = conn.body
    assert body is not None and not body.file.closed
    conn.data_received(b"zz\r\n")
    assert transport.written.startswith(b"HTTP/1.1 400 ") and body.file.closed and conn.body is None


def test_a_body_over_the_limit_is_refused_with_413_before_it_arrives(loop):
    conn, transport, handled, _ = connect(loop)
    conn.data_received(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")
    assert handled == []
    assert transport.written.startswith(b"HTTP/1.1 413 ")


def test_expect_continue_is_answered_before_the_body(loop):
    conn, transport, handled, _ = connect(loop)
    conn.data_received(b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
    assert transport.written == b"HTTP/1.1 100 Continue\r\n\r\n"
    conn.data_received(b"ok")
    assert handled[0][1] == b"ok"


def test_a_head_that_does_not_arrive_in_time_gets_408(loop):
    conn, transport, _, _ = connect(loop)
    conn.data_received(b"GET / HTTP/1.1\r\nHost")
    assert conn.state is State.HEAD and conn.deadline is not None
    conn.expire()
    assert transport.written.startswith(b"HTTP/1.1 408 Request Timeout\r\n")


def test_a_client_pipelining_while_its_request_runs_is_paused(loop):
    conn, transport, handled, _ = connect(loop)
    conn.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    conn.data_received(b"x" * (70 * 1024))
    assert transport.paused
    conn.finish_response(keep_alive=True)
    assert not transport.paused
