"""Parse an HTTP/1.x request head: the request line and the header fields (RFC 9112).

Strict wherever leniency lets a proxy in front and this server disagree about
where a request ends or what it says: lines end in CRLF only (no bare LF, no bare
CR), no whitespace before a colon, no line folding, one Host, one Content-Length,
never Content-Length with Transfer-Encoding, and chunked as the final coding.
tests/http_corpus/ holds the cases and every place we differ from h11.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_HEAD = 64 * 1024  # request line and headers; larger gets 431
MAX_REQUEST_LINE = 8 * 1024  # longer gets 414
MAX_HEADERS = 100
TCHAR = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]"  # RFC 9110 5.6.2, a token's characters
TOKEN = re.compile(TCHAR.encode() + b"+")
# The target may hold obs-text (raw UTF-8 from curl and scripts, decoded as Django
# expects) but never a control byte, DEL or a space: the single spaces around it
# are what delimit it.
REQUEST_LINE = re.compile(b"(" + TCHAR.encode() + rb"+) ([\x21-\x7e\x80-\xff]+) HTTP/([0-9])\.([0-9])")
# What a request line can still become while its end has not arrived: binary junk
# (a TLS handshake on the plain port) is refused before any line end comes.
PARTIAL_CHECK = 256  # bytes of an incomplete request line we look at
PARTIAL_REQUEST_LINE = re.compile(TCHAR.encode() + rb"*(?: [\x21-\x7e\x80-\xff]*(?: [HTP/0-9.]*\r?)?)?")
FIELD_VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")
DIGITS = re.compile(r"[0-9]{1,18}")
# Transfer-Encoding as a plain list of coding names: no parameters, no empty elements.
# What every parser reads alike is all we take; RFC 9112 6.3 lets us refuse the rest.
CODINGS = re.compile(TCHAR + r"+(?:[ \t]*,[ \t]*" + TCHAR + r"+)*")
# RFC 9110 7.2: uri-host [":" port], where uri-host is an IP literal, an IPv4
# address or a reg-name; no userinfo, path or whitespace can pose as the host.
HOST = re.compile(r"(?:\[[0-9A-Za-z:.%_~\-]+\]|[0-9A-Za-z\-._~%!$&'()*+,;=]*)(?::[0-9]*)?")


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


class HeadReader:
    """Find the request head at the start of a growing buffer.

    A head that arrives whole is parsed in one go. One that arrives in pieces is
    checked line by line as each line completes, so a malformed request line, a bare
    LF or a broken field is answered at once instead of after the read timeout.
    """

    def __init__(self) -> None:
        self.checked = 0  # the complete lines before this offset passed their check
        self.fields = 0

    def read(self, buffer: bytearray) -> tuple[RequestHead, int] | None:
        """The head and its size with the blank line after it, or None until it is complete."""
        end = buffer.find(b"\r\n\r\n", max(0, self.checked - 2))
        if end < 0:
            self.check_lines(buffer)
            return None
        if end > MAX_HEAD:
            raise BadRequest(431, "request head too large")
        self.checked = self.fields = 0
        return parse_head(bytes(buffer[:end])), end + 4

    def check_lines(self, buffer: bytearray) -> None:
        while (eol := buffer.find(b"\n", self.checked)) >= 0:
            if eol == self.checked or buffer[eol - 1] != 0x0D:
                raise BadRequest(400, "line ends in a bare LF")
            line = bytes(buffer[self.checked : eol - 1])
            if self.checked == 0:
                parse_request_line(line)
            else:
                self.fields += 1
                if self.fields > MAX_HEADERS:
                    raise BadRequest(431, "too many header fields")
                parse_field(line)
            self.checked = eol + 1
        if self.checked == 0:  # no line end yet: all of it is the request line
            if len(buffer) > MAX_REQUEST_LINE:
                raise BadRequest(414, "request line too long")
            # Its start is enough to tell junk, and keeps a trickled line from costing O(n²).
            if not PARTIAL_REQUEST_LINE.fullmatch(buffer, 0, PARTIAL_CHECK):
                raise BadRequest(400, "malformed request line")
        if len(buffer) > MAX_HEAD:
            raise BadRequest(431, "request head too large")


def parse_head(data: bytes) -> RequestHead:
    """Parse the bytes before the blank line (without it)."""
    line, _, rest = data.partition(b"\r\n")
    method, target, version = parse_request_line(line)
    lines = rest.split(b"\r\n") if rest else []
    if len(lines) > MAX_HEADERS:
        raise BadRequest(431, "too many header fields")
    head = RequestHead(
        method=method,
        target=target,
        version=version,
        headers=[parse_field(field) for field in lines],
        content_length=None,
        chunked=False,
        keep_alive=version == "HTTP/1.1",
        expect_continue=False,
    )
    apply_framing(head)
    return head


def parse_request_line(line: bytes) -> tuple[str, str, str]:
    """Method, target and version ("HTTP/1.1") of a request line without its CRLF."""
    if len(line) > MAX_REQUEST_LINE:
        raise BadRequest(414, "request line too long")
    match = REQUEST_LINE.fullmatch(line)
    if match is None:
        raise BadRequest(400, "malformed request line")
    method, target, major, minor = match.groups()
    if major != b"1" or minor not in (b"0", b"1"):
        raise BadRequest(505, "HTTP version not supported")
    return method.decode("ascii"), target.decode("latin-1"), "HTTP/1." + minor.decode("ascii")


def parse_field(line: bytes) -> tuple[str, str]:
    """A header or trailer field line without its CRLF: the lower-cased name and the value."""
    name, colon, value = line.partition(b":")
    if not colon or not TOKEN.fullmatch(name):
        if line[:1] in (b" ", b"\t"):
            raise BadRequest(400, "obsolete line folding")
        raise BadRequest(400, "malformed header field")
    value = value.strip(b" \t")
    if not FIELD_VALUE.fullmatch(value):
        raise BadRequest(400, "invalid character in a header value")
    return name.decode("ascii").lower(), value.decode("latin-1")


def apply_framing(head: RequestHead) -> None:
    """Check Host and work out the body's length, the connection's persistence and Expect."""
    hosts, lengths, codings = [], [], []
    for name, value in head.headers:
        if name == "host":
            hosts.append(value)
        elif name == "content-length":
            lengths.append(value)
        elif name == "transfer-encoding":
            codings.append(value)
        elif name == "connection":
            tokens = {t.strip(" \t").lower() for t in value.split(",")}
            if "close" in tokens:
                head.keep_alive = False
            elif "keep-alive" in tokens:
                head.keep_alive = True
        elif name == "expect" and value.lower() == "100-continue":
            # RFC 9110 10.1.1: an HTTP/1.0 client cannot have meant it.
            head.expect_continue = head.version == "HTTP/1.1"
    check_host(head.version, hosts)
    if codings and lengths:
        raise BadRequest(400, "both Content-Length and Transfer-Encoding")
    if codings:
        head.chunked = chunked_last(codings, head.version)
    elif lengths:
        head.content_length = content_length(lengths)


def check_host(version: str, hosts: list[str]) -> None:
    """RFC 9112 3.2: 400 for HTTP/1.1 without Host, for two Host fields, for an invalid one."""
    if not hosts and version == "HTTP/1.1":
        raise BadRequest(400, "no Host header")
    if len(hosts) > 1:
        raise BadRequest(400, "more than one Host header")
    if hosts and not HOST.fullmatch(hosts[0]):
        raise BadRequest(400, "invalid Host header")


def content_length(fields: list[str]) -> int:
    """RFC 9110 8.6 lets us refuse a repeated Content-Length, even with one value: we do."""
    if len(fields) > 1 or not DIGITS.fullmatch(fields[0]):
        raise BadRequest(400, "invalid Content-Length")
    return int(fields[0])


def chunked_last(fields: list[str], version: str) -> bool:
    """RFC 9112 6.1 and 6.3: chunked must be the final coding, applied once; we decode no other."""
    if version == "HTTP/1.0":
        raise BadRequest(400, "Transfer-Encoding in HTTP/1.0")
    if not all(CODINGS.fullmatch(field) for field in fields):
        raise BadRequest(400, "malformed Transfer-Encoding")
    codings = [coding.strip(" \t").lower() for field in fields for coding in field.split(",")]
    if codings[-1] != "chunked" or "chunked" in codings[:-1]:
        raise BadRequest(400, "chunked is not the final transfer coding")
    if len(codings) > 1:
        raise BadRequest(501, "unsupported transfer coding")
    return True


def wants_websocket(head: RequestHead) -> bool:
    """A GET that asks to switch to the WebSocket protocol (``Upgrade: websocket``)."""
    return head.method == "GET" and any(
        name == "upgrade" and "websocket" in value.lower() for name, value in head.headers
    )
