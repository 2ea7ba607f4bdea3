"""Parse an HTTP/1.x request head: the request line and the header fields.

Strict where leniency is dangerous (bare LF inside a field, whitespace before the
colon, several Content-Length values, Content-Length with Transfer-Encoding), so a
proxy in front and this server never disagree about where a request ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_HEAD = 64 * 1024  # request line and headers; larger gets 431
MAX_HEADERS = 100
TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
REQUEST_LINE = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) HTTP/(1\.[01])")
FIELD_VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")
DIGITS = re.compile(r"[0-9]{1,18}")


class BadRequest(Exception):
    """The client sent something we must answer with ``status`` and then close."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(slots=True)
class RequestHead:
    method: str
    target: str
    version: str  # "HTTP/1.1"
    headers: list[tuple[str, str]]  # names lower-cased, values latin-1
    content_length: int | None
    chunked: bool
    keep_alive: bool
    expect_continue: bool


def parse_head(data: bytes) -> RequestHead:
    """Parse the bytes before the blank line (without it)."""
    line, _, rest = data.partition(b"\r\n")
    match = REQUEST_LINE.fullmatch(line)
    if match is None:
        raise BadRequest(400, "malformed request line")
    method, target, minor = match.groups()
    headers = parse_fields(rest.split(b"\r\n") if rest else [])
    head = RequestHead(
        method=method.decode("ascii"),
        target=target.decode("latin-1"),
        version="HTTP/" + minor.decode("ascii"),
        headers=headers,
        content_length=None,
        chunked=False,
        keep_alive=minor == b"1.1",
        expect_continue=False,
    )
    apply_framing(head)
    return head


def parse_fields(lines: list[bytes]) -> list[tuple[str, str]]:
    if len(lines) > MAX_HEADERS:
        raise BadRequest(431, "too many header fields")
    headers = []
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or not TOKEN.fullmatch(name):
            raise BadRequest(400, "malformed header field")
        value = value.strip(b" \t")
        if not FIELD_VALUE.fullmatch(value):
            raise BadRequest(400, "invalid character in a header value")
        headers.append((name.decode("ascii").lower(), value.decode("latin-1")))
    return headers


def apply_framing(head: RequestHead) -> None:
    """Work out the body's length, the connection's persistence and Expect."""
    lengths = []
    for name, value in head.headers:
        if name == "content-length":
            lengths.append(value)
        elif name == "transfer-encoding":
            if value.lower() != "chunked" or head.chunked:
                raise BadRequest(400, "unsupported transfer coding")
            head.chunked = True
        elif name == "connection":
            tokens = {t.strip().lower() for t in value.split(",")}
            if "close" in tokens:
                head.keep_alive = False
            elif "keep-alive" in tokens:
                head.keep_alive = True
        elif name == "expect" and value.lower() == "100-continue":
            head.expect_continue = True
    if lengths:
        if head.chunked or len(set(lengths)) > 1 or not DIGITS.fullmatch(lengths[0]):
            raise BadRequest(400, "invalid Content-Length")
        head.content_length = int(lengths[0])
    if head.chunked and head.version == "HTTP/1.0":
        raise BadRequest(400, "chunked body in HTTP/1.0")
