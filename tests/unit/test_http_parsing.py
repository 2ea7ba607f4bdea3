"""Request heads and bodies, parsed without a socket."""

import pytest

from hurricane.worker.body import Body, BodyTooLarge
from hurricane.worker.request import BadRequest, HeadReader, parse_head


def test_request_line_and_headers():
    head = parse_head(b"POST /a?b=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nX-A:  1 \r\nx-a: 2")
    assert (head.method, head.target, head.version) == ("POST", "/a?b=1", "HTTP/1.1")
    assert head.headers == [("host", "x"), ("content-length", "3"), ("x-a", "1"), ("x-a", "2")]
    assert head.content_length == 3 and head.keep_alive and not head.chunked


@pytest.mark.parametrize(
    ("raw", "keep_alive"),
    [
        (b"GET / HTTP/1.1\r\nHost: x", True),
        (b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close", False),
        (b"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade, Close", False),
        (b"GET / HTTP/1.0", False),
        (b"GET / HTTP/1.0\r\nConnection: Keep-Alive", True),
    ],
)
def test_persistence_follows_version_and_connection_header(raw, keep_alive):
    assert parse_head(raw).keep_alive is keep_alive


def test_framing_is_read_from_content_length_or_chunked():
    head = parse_head(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 007")
    assert (head.content_length, head.chunked) == (7, False)
    head = parse_head(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked")
    assert (head.content_length, head.chunked) == (None, True)


def test_expect_continue_only_counts_in_http11():
    assert parse_head(b"PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue").expect_continue
    assert not parse_head(b"PUT / HTTP/1.0\r\nExpect: 100-continue").expect_continue


# The full matrix of valid and invalid heads is tests/http_corpus/; these pin the status of each rule.
@pytest.mark.parametrize(
    ("raw", "status", "reason"),
    [
        (b"GET /", 400, "malformed request line"),
        (b"GET /\x7f HTTP/1.1\r\nHost: x", 400, "malformed request line"),
        (b"GET / HTTP/2.0\r\nHost: x", 505, "HTTP version not supported"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b", 400, "obsolete line folding"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b", 400, "invalid character in a header value"),
        (b"GET / HTTP/1.1\r\nHost : x", 400, "malformed header field"),
        (b"GET / HTTP/1.1", 400, "no Host header"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nHost: x", 400, "more than one Host header"),
        (b"GET / HTTP/1.1\r\nHost: a@x", 400, "invalid Host header"),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1",
            400,
            "invalid Content-Length",
        ),
        (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: +1", 400, "invalid Content-Length"),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked",
            400,
            "both Content-Length and Transfer-Encoding",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip",
            400,
            "chunked is not the final transfer coding",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked",
            501,
            "unsupported transfer coding",
        ),
        (b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ,chunked", 400, "malformed Transfer-Encoding"),
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked", 400, "Transfer-Encoding in HTTP/1.0"),
        (b"GET /" + b"a" * 8200 + b" HTTP/1.1", 414, "request line too long"),
        (
            b"GET / HTTP/1.1\r\n" + b"\r\n".join(b"X-%d: 1" % i for i in range(101)),
            431,
            "too many header fields",
        ),
    ],
)
def test_each_rule_has_its_status(raw, status, reason):
    with pytest.raises(BadRequest) as caught:
        parse_head(raw)
    assert (caught.value.status, caught.value.reason) == (status, reason)


def test_a_head_in_one_piece_is_found_with_its_size():
    buffer = bytearray(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nnext")
    head, size = HeadReader().read(buffer)
    assert (head.target, buffer[size:]) == ("/", b"next")


def test_a_head_in_pieces_is_checked_line_by_line_and_found_at_the_blank_line():
    reader, buffer = HeadReader(), bytearray()
    for piece in (b"GET / HT", b"TP/1.1\r", b"\nHost: x\r\n", b"X: 1\r\n\r", b"\nrest"):
        buffer += piece
        found = reader.read(buffer)
    assert found is not None and buffer[found[1] :] == b"rest"
    assert reader.checked == 0, "ready for the next request"


@pytest.mark.parametrize(
    ("partial", "status"),
    [
        (b"GET / HTTP/1.1\n", 400),  # a bare LF, refused as soon as it arrives
        (b"GET / HTTP/1.1\r\nHost: x\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\n", 400),
        (b"GET / HTTP/9.9\r\n", 505),  # a complete request line, judged at once
        (b"GET / HTTP/1.1\r\nBad Header\r\n", 400),  # a complete field line, judged at once
        (b"GET / HTTP/1.1\r\n folded\r\n", 400),
        (b"\x16\x03\x01\x00", 400),  # a TLS handshake: no request line starts like that
        (b"GET /\x00", 400),
        (b"GET /" + b"a" * 8200, 414),
        (b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(101)), 431),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 70_000, 431),
    ],
)
def test_a_bad_line_is_refused_before_the_head_is_complete(partial, status):
    with pytest.raises(BadRequest) as caught:
        HeadReader().read(bytearray(partial))
    assert caught.value.status == status


@pytest.mark.parametrize(
    "partial", [b"GET", b"GET /index.html HTTP/1", b"GET / HTTP/1.1\r", b"GET / HTTP/1.1\r\nHost: x\r\nX-A"]
)
def test_a_head_that_may_still_become_valid_waits(partial):
    assert HeadReader().read(bytearray(partial)) is None


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


@pytest.mark.parametrize(
    "wire",
    [
        b"zz\r\n",
        b"4\r\nWikiXX\r\n",
        b"4\nWiki\r\n0\r\n\r\n",
        b"1" * 2000,
        b"4 \r\n",  # no whitespace after the size
        b"4;a=\x01\r\n",  # extensions are parsed, not skipped
        b"10000000000000004\r\n",  # 17 digits: where 64-bit parsers wrap around
        b"0\r\nNo colon\r\n\r\n",  # trailers are checked like header fields
        b"0\r\nX: 1\r\n 2\r\n\r\n",
    ],
)
def test_malformed_chunked_bodies_are_400(wire):
    body = Body(None, 1000, 1000)
    with pytest.raises(BadRequest) as caught, body.file:
        body.feed(wire)
    assert caught.value.status == 400


def test_a_trailer_section_without_end_is_431():
    body = Body(None, 1000, 1000)
    with pytest.raises(BadRequest) as caught, body.file:
        body.feed(b"0\r\n")
        for _ in range(10):
            body.feed(b"X: " + b"v" * 1000 + b"\r\n")
    assert caught.value.status == 431


def test_a_chunk_beyond_the_limit_is_413_when_announced():
    body = Body(None, 10, 1000)
    with pytest.raises(BodyTooLarge), body.file:
        body.feed(b"b\r\n")
    body = Body(None, 10, 1000)
    with pytest.raises(BodyTooLarge), body.file:
        body.feed(b"6\r\nxxxxxx\r\n5\r\n")


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
