"""Turn what a WSGI application returns into HTTP/1.1 bytes: status line, headers, framing."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from email.utils import formatdate
from http import HTTPStatus
from typing import IO

from hurricane.worker.request import TOKEN, RequestHead

NO_BODY_STATUSES = {204, 304}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection", "te"}
FILE_BLOCK = 64 * 1024
STATUS_LINE = re.compile(r"[1-5][0-9]{2} [^\r\n]*")


class Response:
    """One response's framing: its head, and each body chunk as it goes out."""

    def __init__(self, head: RequestHead, keep_alive: bool) -> None:
        self.request = head
        self.keep_alive = keep_alive
        self.status = ""
        self.headers: list[tuple[str, str]] = []
        self.started = False  # the head is on its way to the client
        self.chunked = False
        self.declared: int | None = None  # Content-Length the application set
        self.sent = 0  # body bytes sent

    @property
    def code(self) -> int:
        return int(self.status[:3]) if self.status else 500

    @property
    def bodyless(self) -> bool:
        code = self.code
        return self.request.method == "HEAD" or code in NO_BODY_STATUSES or code < 200

    def validate(self) -> None:
        """Refuse what would corrupt the response stream (and so every later response)."""
        if not STATUS_LINE.fullmatch(self.status):
            raise ValueError(f"invalid status line {self.status!r}")
        for name, value in self.headers:
            if not TOKEN.fullmatch(name.encode("latin-1")) or "\r" in value or "\n" in value:
                raise ValueError(f"invalid response header {name!r}: {value!r}")
            if name.lower() == "content-length" and not value.strip().isdigit():
                raise ValueError(f"invalid Content-Length {value!r}")

    def head(self, length: int | None) -> bytes:
        """Status line and headers; ``length`` is the whole body's size when already known."""
        self.validate()
        self.started = True
        lines = [f"{self.request.version} {self.status}\r\n"]
        for name, value in self.headers:
            lower = name.lower()
            if lower == "content-length":
                self.declared = int(value)
                continue
            elif lower in HOP_BY_HOP:
                if lower == "connection" and "close" in value.lower():
                    self.keep_alive = False
                continue
            lines.append(f"{name}: {value}\r\n")
        if self.declared is not None:
            lines.append(f"Content-Length: {self.declared}\r\n")
        elif length is not None and (self.code >= 200 and self.code not in NO_BODY_STATUSES):
            self.declared = length
            lines.append(f"Content-Length: {length}\r\n")
        elif not (self.code < 200 or self.code in NO_BODY_STATUSES):
            # No length known: chunked where the client speaks HTTP/1.1, else the end is the close.
            if self.request.version == "HTTP/1.1":
                self.chunked = True
                lines.append("Transfer-Encoding: chunked\r\n")
            else:
                self.keep_alive = False
        if not self.keep_alive:
            lines.append("Connection: close\r\n")
        elif self.request.version == "HTTP/1.0":
            lines.append("Connection: keep-alive\r\n")
        lines.append(f"Date: {http_date()}\r\n\r\n")
        return "".join(lines).encode("latin-1")

    def frame(self, chunk: bytes) -> bytes:
        """One body chunk as it goes on the wire (empty for HEAD, cut at Content-Length)."""
        if self.bodyless or not chunk:
            return b""
        if self.declared is not None:
            chunk = chunk[: max(0, self.declared - self.sent)]
        self.sent += len(chunk)
        if self.chunked:
            return b"%x\r\n%s\r\n" % (len(chunk), chunk)
        return chunk

    def end(self) -> bytes:
        """What closes the body; a body shorter than its Content-Length ends the connection."""
        if self.bodyless:
            return b""
        if self.declared is not None and self.sent < self.declared:
            self.keep_alive = False
        return b"0\r\n\r\n" if self.chunked else b""


def error_response(
    status: int, version: str = "HTTP/1.1", extra: list[tuple[str, str]] | None = None
) -> bytes:
    """A complete response for a request we refuse before the application sees it."""
    reason = HTTPStatus(status).phrase
    body = f"{status} {reason}\n".encode()
    fields = "".join(f"{name}: {value}\r\n" for name, value in extra or [])
    return (
        f"{version} {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
        f"{fields}Connection: close\r\nDate: {http_date()}\r\n\r\n"
    ).encode() + body


_date_cache: tuple[int, str] = (0, "")


def http_date() -> str:
    """The Date header, formatted at most once a second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


class FileWrapper:
    """``wsgi.file_wrapper``: read a file in blocks, so it is never held in memory whole."""

    def __init__(self, file: IO[bytes], block_size: int = FILE_BLOCK) -> None:
        self.file = file
        self.block_size = max(block_size, FILE_BLOCK)

    def __iter__(self) -> Iterator[bytes]:
        read = self.file.read
        while block := read(self.block_size):
            yield block

    def close(self) -> None:
        self.file.close()
