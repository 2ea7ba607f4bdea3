"""Lines on pipes: atomic writes that never block, and incremental reads that never fail.

A child writes each message with one ``write()`` below ``PIPE_BUF``, so a reader
never sees half of one. Readers take what arrives, keep partial lines for later,
and log and skip what is malformed or oversize.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from supervisor.protocol import MAX_LINE

log = logging.getLogger("hurricane.supervisor")

READ_SIZE = 65536


def write_line(fd: int, line: bytes) -> bool:
    """Write one line to a non-blocking pipe; False if it would block (the line is dropped).

    BrokenPipeError propagates: the reader is gone.
    """
    try:
        written = os.write(fd, line)
    except BlockingIOError:
        return False
    # Lines up to PIPE_BUF are written whole or not at all.
    return written == len(line)


class LineReader:
    """Incremental parser: feed it bytes as they arrive, get whole JSON objects back."""

    def __init__(self, name: str, limit: int = MAX_LINE) -> None:
        self.name = name
        self.limit = limit
        self._buffer = b""
        self._discarding = False

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        self._buffer += data
        messages: list[dict[str, Any]] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                break
            line, self._buffer = self._buffer[:end], self._buffer[end + 1 :]
            if self._discarding:
                self._discarding = False
                continue
            msg = self._parse(line)
            if msg is not None:
                messages.append(msg)
        if len(self._buffer) > self.limit:
            log.warning("%s: dropping a line longer than %d bytes", self.name, self.limit)
            self._buffer = b""
            self._discarding = True
        return messages

    def _parse(self, line: bytes) -> dict[str, Any] | None:
        if len(line) >= self.limit:
            log.warning("%s: dropping a line longer than %d bytes", self.name, self.limit)
            return None
        try:
            msg = json.loads(line)
        except ValueError:
            log.warning("%s: skipping a malformed line: %.80r", self.name, line)
            return None
        if not isinstance(msg, dict) or "v" not in msg:
            log.warning("%s: skipping a line that is not a message: %.80r", self.name, line)
            return None
        return msg


class PipeReader:
    """The read end of a non-blocking pipe, as JSON objects; ``eof`` once the writer is gone."""

    def __init__(self, fd: int, name: str, limit: int = MAX_LINE) -> None:
        self.fd = fd
        self.lines = LineReader(name, limit)
        self.eof = False
        os.set_blocking(fd, False)

    def read(self) -> list[dict[str, Any]]:
        """What has arrived; call when the fd is readable."""
        try:
            data = os.read(self.fd, READ_SIZE)
        except BlockingIOError:
            return []
        if not data:
            self.eof = True
        return self.lines.feed(data)

    def read_all(self) -> list[dict[str, Any]]:
        """Everything written so far (the writer has exited): stop at EOF or at an empty pipe,
        since a grandchild may still hold the write end."""
        messages: list[dict[str, Any]] = []
        while not self.eof:
            try:
                data = os.read(self.fd, READ_SIZE)
            except BlockingIOError:
                break
            if not data:
                self.eof = True
            messages += self.lines.feed(data)
        return messages


class LatestLineWriter:
    """Sends whole lines down a non-blocking pipe to one reader, never blocking.

    For snapshots, which may exceed ``PIPE_BUF``: a partial write is finished
    before the next line starts, and while the reader lags, newer lines replace
    the one that has not started yet, since only the latest matters.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._partial = b""
        self._next = b""

    def send(self, line: bytes) -> None:
        self._next = line
        self.flush()

    def flush(self) -> None:
        for _ in range(2):
            if not self._partial:
                self._partial, self._next = self._next, b""
            if not self._partial:
                return
            try:
                written = os.write(self.fd, self._partial)
            except BlockingIOError:
                return
            self._partial = self._partial[written:]
            if self._partial:
                return
