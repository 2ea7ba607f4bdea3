"""The WSGI environ and the response framing, without a socket."""

import io
import wsgiref.validate

import pytest

from hurricane.worker.environ import EnvironBuilder, TrustedProxies
from hurricane.worker.request import RequestHead, parse_head
from hurricane.worker.response import FileWrapper, Response


def parse(raw: bytes) -> RequestHead:
    """``raw`` parsed, with the Host that HTTP/1.1 requires when it has none."""
    line, _, fields = raw.partition(b"\r\n")
    if line.endswith(b"HTTP/1.1") and not fields.startswith(b"Host:"):
        raw = line + b"\r\nHost: x" + (b"\r\n" + fields if fields else b"")
    return parse_head(raw)


def build(raw: bytes, script_name: str = "", proxies: str = "", peer: str = "10.0.0.5") -> dict:
    builder = EnvironBuilder(8000, script_name, TrustedProxies(proxies), False)
    return builder.build(parse(raw), io.BytesIO(b""), 0, (peer, 4321))


def test_environ_passes_wsgiref_validate():
    environ = build(b"GET /p%C3%A4th?q=1 HTTP/1.1\r\nHost: example.com:8000\r\nContent-Type: text/plain")
    wsgiref.validate.check_environ(environ)
    assert environ["PATH_INFO"] == "/päth".encode().decode("latin-1")
    assert environ["QUERY_STRING"] == "q=1"
    assert environ["SERVER_NAME"] == "example.com"
    assert environ["CONTENT_TYPE"] == "text/plain"
    assert "HTTP_CONTENT_TYPE" not in environ and "HTTP_CONTENT_LENGTH" not in environ


@pytest.mark.parametrize(
    ("target", "path"),
    [("http://example.com/a/b?x", "/a/b"), ("*", "/"), ("http://example.com", "/"), ("/%2Fx", "//x")],
)
def test_path_info_always_starts_with_a_slash(target, path):
    environ = build(b"OPTIONS " + target.encode() + b" HTTP/1.1")
    assert environ["PATH_INFO"] == path


@pytest.mark.parametrize(
    ("path", "script", "path_info"),
    [
        ("/app/hello", "/app", "/hello"),
        ("/app", "/app", "/"),
        ("/apple", "/app", "/apple"),
        ("/x", "/app/", "/x"),
    ],
)
def test_script_name_prefix_is_moved_out_of_path_info(path, script, path_info):
    environ = build(f"GET {path} HTTP/1.1".encode(), script_name=script)
    assert environ["SCRIPT_NAME"] == "/app"
    assert environ["PATH_INFO"] == path_info


def test_underscored_headers_are_dropped_and_repeats_joined():
    environ = build(
        b"GET / HTTP/1.1\r\nX_Forwarded_For: 1.2.3.4\r\nAccept: a\r\nAccept: b\r\nCookie: a=1\r\nCookie: b=2"
    )
    assert "HTTP_X_FORWARDED_FOR" not in environ
    assert environ["HTTP_ACCEPT"] == "a,b"
    assert environ["HTTP_COOKIE"] == "a=1; b=2"


FORWARDED = b"GET / HTTP/1.1\r\nX-Forwarded-For: 203.0.113.9, 10.0.0.7\r\nX-Forwarded-Proto: https"


def test_forwarded_headers_are_ignored_unless_the_peer_is_trusted():
    environ = build(FORWARDED)
    assert (environ["REMOTE_ADDR"], environ["wsgi.url_scheme"]) == ("10.0.0.5", "http")
    environ = build(FORWARDED, proxies="192.168.0.0/16")
    assert (environ["REMOTE_ADDR"], environ["wsgi.url_scheme"]) == ("10.0.0.5", "http")


def test_forwarded_for_is_walked_from_the_right_through_trusted_hops():
    environ = build(FORWARDED, proxies="10.0.0.0/8")
    assert (environ["REMOTE_ADDR"], environ["wsgi.url_scheme"]) == ("203.0.113.9", "https")
    # Only the peer is trusted: the hop it reports is the client, whatever it claims before.
    environ = build(FORWARDED, proxies="10.0.0.5")
    assert environ["REMOTE_ADDR"] == "10.0.0.7"


def response_for(raw: bytes) -> Response:
    head = parse(raw)
    response = Response(head, head.keep_alive)
    response.status = "200 OK"
    response.headers = [("Content-Type", "text/plain")]
    return response


def test_whole_body_gets_a_content_length():
    response = response_for(b"GET / HTTP/1.1")
    head = response.head(5)
    assert b"Content-Length: 5\r\n" in head and b"Transfer-Encoding" not in head
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and head.endswith(b"\r\n\r\n")
    assert response.frame(b"hello") == b"hello" and response.end() == b""


def test_unknown_length_is_chunked_on_http11_and_closes_on_http10():
    response = response_for(b"GET / HTTP/1.1")
    assert b"Transfer-Encoding: chunked\r\n" in response.head(None)
    assert response.frame(b"abc") == b"3\r\nabc\r\n" and response.end() == b"0\r\n\r\n"
    response = response_for(b"GET / HTTP/1.0\r\nConnection: keep-alive")
    assert b"Connection: close\r\n" in response.head(None) and not response.keep_alive


def test_head_has_headers_but_no_body_and_keeps_the_connection():
    response = response_for(b"HEAD / HTTP/1.1")
    assert b"Content-Length: 5\r\n" in response.head(5)
    assert response.frame(b"hello") == b"" and response.end() == b""
    assert response.keep_alive


def test_a_body_short_of_its_content_length_closes_the_connection():
    response = response_for(b"GET / HTTP/1.1")
    response.headers.append(("Content-Length", "10"))
    response.head(None)
    assert response.frame(b"x" * 12) == b"x" * 10  # never more than declared
    response = response_for(b"GET / HTTP/1.1")
    response.headers.append(("Content-Length", "10"))
    response.head(None)
    response.frame(b"short")
    response.end()
    assert not response.keep_alive


def test_file_wrapper_reads_in_blocks_and_closes_the_file():
    file = io.BytesIO(b"x" * 200_000)
    wrapper = FileWrapper(file, 4096)
    assert [len(b) for b in wrapper] == [65536, 65536, 65536, 3392]
    wrapper.close()
    assert file.closed


def test_a_forwarded_hop_that_is_not_an_address_stops_the_walk():
    raw = b"GET / HTTP/1.1\r\nX-Forwarded-For: not-an-ip, 10.0.0.7"
    assert build(raw, proxies="10.0.0.0/8")["REMOTE_ADDR"] == "10.0.0.7"


def test_forwarded_proto_takes_the_value_our_proxy_appended():
    raw = b"GET / HTTP/1.1\r\nX-Forwarded-Proto: https, http"
    assert build(raw, proxies="10.0.0.0/8")["wsgi.url_scheme"] == "http"


@pytest.mark.parametrize(
    ("name", "value"),
    [("Content-Length", "5, 5"), ("X-Injected", "a\r\nSet-Cookie: x=1"), ("Bad Name", "v")],
)
def test_invalid_response_heads_are_refused_before_anything_is_sent(name, value):
    response = response_for(b"GET / HTTP/1.1")
    response.headers.append((name, value))
    with pytest.raises(ValueError):
        response.head(None)
    assert not response.started
