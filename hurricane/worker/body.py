"""Receive a request body: fixed length or chunked, kept in memory up to a limit, then on disk.

The application gets the file as ``wsgi.input``: the body is stored once, in the
place it will be read from, and never copied into a second buffer.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from typing import IO

from hurricane.worker.request import BadRequest

MAX_CHUNK_LINE = 1024
MAX_TRAILER = 8 * 1024


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
        self.chunked = _Chunks() if length is None else None
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

    def __init__(self) -> None:
        self.pending = bytearray()  # an incomplete size line or trailer
        self.remaining = 0  # data bytes left in the current chunk
        self.crlf = False  # the CRLF after a chunk's data is due
        self.trailer = False
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
            if len(self.pending) > (MAX_TRAILER if self.trailer else MAX_CHUNK_LINE):
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
        elif self.trailer:
            self.done = not line
        else:
            self._size(line)
        return pos + end + 1

    def _size(self, line: bytes) -> None:
        size = line.split(b";", 1)[0].strip()
        if not size or len(size) > 16 or size.strip(b"0123456789abcdefABCDEF"):
            raise BadRequest(400, "malformed chunk size")
        self.remaining = int(size, 16)
        self.trailer = self.remaining == 0
