"""Receive a request body: fixed length or chunked, kept in memory up to a limit, then on disk.

The application gets the file as ``wsgi.input``: the body is stored once, in the
place it will be read from, and never copied into a second buffer.
"""

from __future__ import annotations

import io
import re
import tempfile
from collections.abc import Callable
from typing import IO

from hurricane.worker.request import MAX_HEADERS, TCHAR, BadRequest, parse_field

MAX_CHUNK_LINE = 1024
MAX_TRAILER = 8 * 1024  # the whole trailer section, which we read and drop
# RFC 9112 7.1.1: chunk-size [ chunk-ext ], nothing else (no whitespace after the size,
# no control bytes in an extension). 16 hex digits hold any size; more is an overflow.
QUOTED = rb'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"'
WORD = TCHAR.encode() + b"+"
CHUNK_EXT = b"[ \t]*;[ \t]*" + WORD + b"(?:[ \t]*=[ \t]*(?:" + WORD + b"|" + QUOTED + b"))?"
CHUNK_LINE = re.compile(b"([0-9A-Fa-f]{1,16})(?:" + CHUNK_EXT + b")*")


class BodyTooLarge(BadRequest):
    def __init__(self) -> None:
        super().__init__(413, "request body too large")


class Body:
    """The body of one request, as it arrives."""

    def __init__(self, length: int | None, max_size: int, memory_limit: int) -> None:
        self.max_size = max_size
        self.remaining = length  # None: chunked
        self.size = 0
        self.done = length == 0
        self.chunked = _Chunks(max_size) if length is None else None
        self.file: IO[bytes] = (
            io.BytesIO()
            if (length or 0) <= memory_limit and length is not None
            else tempfile.SpooledTemporaryFile(max_size=memory_limit)  # noqa: SIM115 - returned
        )

    def feed(self, data: bytes | bytearray | memoryview) -> int:
        """Take what belongs to this body from ``data``; return how many bytes were used."""
        if self.chunked is not None:
            used = self.chunked.feed(data, self._store)
            self.done = self.chunked.done
            return used
        assert self.remaining is not None
        used = min(len(data), self.remaining)
        self._store(data[:used])
        self.remaining -= used
        self.done = self.remaining == 0
        return used

    def _store(self, data: bytes | bytearray | memoryview) -> None:
        self.size += len(data)
        if self.size > self.max_size:
            raise BodyTooLarge()
        self.file.write(data)

    def input(self) -> IO[bytes]:
        """The finished body, rewound, for ``wsgi.input``."""
        self.file.seek(0)
        return self.file


class _Chunks:
    """Decode ``Transfer-Encoding: chunked`` incrementally."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self.declared = 0  # the sum of the chunk sizes so far
        self.pending = bytearray()  # an incomplete size line or trailer
        self.remaining = 0  # data bytes left in the current chunk
        self.crlf = False  # the CRLF after a chunk's data is due
        self.trailer_size: int | None = None  # bytes of the trailer section, once in it
        self.trailer_fields = 0
        self.done = False

    def feed(self, data: bytes | bytearray | memoryview, store: Callable[[memoryview], None]) -> int:
        pos = 0
        with memoryview(data) as view:  # released before the caller trims its buffer
            while pos < len(view) and not self.done:
                if self.remaining:
                    take = min(self.remaining, len(view) - pos)
                    store(view[pos : pos + take])
                    self.remaining -= take
                    pos += take
                    self.crlf = self.remaining == 0
                    continue
                pos = self._line(view, pos)
        return pos

    def _line(self, view: memoryview, pos: int) -> int:
        """Consume up to one line: a chunk's trailing CRLF, a size line or a trailer line."""
        end = bytes(view[pos : pos + MAX_TRAILER + 2]).find(b"\n")
        if end < 0:
            self.pending += view[pos:]
            if len(self.pending) > (MAX_CHUNK_LINE if self.trailer_size is None else MAX_TRAILER):
                raise BadRequest(400, "chunk size line too long")
            return len(view)
        line = bytes(self.pending) + bytes(view[pos : pos + end + 1])
        self.pending.clear()
        if not line.endswith(b"\r\n"):
            raise BadRequest(400, "malformed chunked body")
        line = line[:-2]
        if self.crlf:
            if line:
                raise BadRequest(400, "malformed chunked body")
            self.crlf = False
        elif self.trailer_size is not None:
            self._trailer(line)
        else:
            self._size(line)
        return pos + end + 1

    def _size(self, line: bytes) -> None:
        match = CHUNK_LINE.fullmatch(line) if len(line) <= MAX_CHUNK_LINE else None
        if match is None:
            raise BadRequest(400, "malformed chunk size")
        self.remaining = int(match[1], 16)
        # Refuse an oversized body when it is announced, not after it has been uploaded.
        self.declared += self.remaining
        if self.declared > self.max_size:
            raise BodyTooLarge()
        if self.remaining == 0:
            self.trailer_size = 0

    def _trailer(self, line: bytes) -> None:
        """Trailer fields are checked as strictly as header fields, then dropped."""
        assert self.trailer_size is not None
        if not line:
            self.done = True
            return
        self.trailer_size += len(line) + 2
        self.trailer_fields += 1
        if self.trailer_size > MAX_TRAILER or self.trailer_fields > MAX_HEADERS:
            raise BadRequest(431, "trailer section too large")
        parse_field(line)
