"""Request heads and bodies, parsed without a socket."""

import pytest

from hurricane.worker.body import Body, BodyTooLarge
from hurricane.worker.request import BadRequest, parse_head


def test_request_line_and_headers():
    head = parse_head(b"POST /a?b=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nX-A:  1 \r\nx-a: 2")
    assert (head.method, head.target, head.version) == ("POST", "/a?b=1", "HTTP/1.1")
    assert head.headers == [("host", "x"), ("content-length", "3"), ("x-a", "1"), ("x-a", "2")]
    assert head.content_length == 3 and head.keep_alive and not head.chunked


@pytest.mark.parametrize(
    ("raw", "keep_alive"),
    [
        (b"GET / HTTP/1.1", True),
        (b"GET / HTTP/1.1\r\nConnection: close", False),
        (b"GET / HTTP/1.0", False),
        (b"GET / HTTP/1.0\r\nConnection: Keep-Alive", True),
    ],
)
def test_persistence_follows_version_and_connection_header(raw, keep_alive):
    assert parse_head(raw).keep_alive is keep_alive


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /",
        b"GET / HTTP/2.0",
        b"GET  / HTTP/1.1",
        b"G@T / HTTP/1.1",
        b"GET / HTTP/1.1\r\nNo colon here",
        b"GET / HTTP/1.1\r\nBad Name: x",
        b"GET / HTTP/1.1\r\nName : x",
        b"GET / HTTP/1.1\r\nX: a\x00b",
        b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2",
        b"GET / HTTP/1.1\r\nContent-Length: -1",
        b"GET / HTTP/1.1\r\nContent-Length: \xb2",
        b"GET / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked",
        b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked",
    ],
)
def test_malformed_heads_are_400(raw):
    with pytest.raises(BadRequest) as caught:
        parse_head(raw)
    assert caught.value.status == 400


def test_too_many_fields_are_431():
    raw = b"GET / HTTP/1.1\r\n" + b"\r\n".join(b"X-%d: 1" % i for i in range(101))
    with pytest.raises(BadRequest) as caught:
        parse_head(raw)
    assert caught.value.status == 431


def feed_all(body: Body, data: bytes, step: int) -> int:
    used = 0
    while used < len(data) and not body.done:
        used += body.feed(data[used : used + step])
    return used


@pytest.mark.parametrize("step", [1, 3, 1000])
def test_chunked_body_in_any_split_and_what_follows_is_left(step):
    wire = b"4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: 1\r\n\r\nGET /next"
    body = Body(None, 1000, 1000)
    used = feed_all(body, wire, step)
    assert body.done and wire[used:] == b"GET /next"
    with body.input() as stream:
        assert stream.read() == b"Wikipedia in\r\n\r\nchunks."
    assert body.size == 23


@pytest.mark.parametrize("wire", [b"zz\r\n", b"4\r\nWikiXX\r\n", b"4\nWiki\r\n0\r\n\r\n", b"1" * 2000])
def test_malformed_chunked_bodies_are_400(wire):
    body = Body(None, 1000, 1000)
    with pytest.raises(BadRequest) as caught, body.file:
        body.feed(wire)
    assert caught.value.status == 400


def test_chunked_body_beyond_the_limit_is_413():
    body = Body(None, 10, 1000)
    with pytest.raises(BodyTooLarge), body.file:
        body.feed(b"b\r\n" + b"x" * 11 + b"\r\n")


def test_fixed_length_body_takes_only_its_bytes():
    body = Body(5, 100, 100)
    assert body.feed(b"hello") == 5
    assert body.done and body.input().read() == b"hello"
    assert Body(3, 100, 100).feed(b"abcdef") == 3


def test_large_bodies_are_spooled_to_disk_not_memory():
    body = Body(None, 10_000_000, 1000)
    for _ in range(10):
        body.feed(b"3e8\r\n" + b"x" * 1000 + b"\r\n")
    body.feed(b"0\r\n\r\n")
    with body.input() as stream:
        assert getattr(stream, "_rolled", False), "a body beyond the memory limit is in a temporary file"
        assert len(stream.read()) == 10_000
    with Body(5000, 10_000, 1000).file as file:
        assert file.__class__.__name__ == "SpooledTemporaryFile"
