"""The heartbeat wire format shared by workers, the supervisor and the probe.

One JSON object per line, starting with ``v``. Lines stay below ``PIPE_BUF``
so a write to a pipe is atomic: a reader never sees half a heartbeat.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("hurricane.supervisor")

VERSION = 1
MAX_LINE = 4096  # PIPE_BUF on Linux: writes up to this size are atomic.

# Reserved worker exit codes. 3 is Django's autoreloader's "restart me".
EXIT_USAGE = 2
EXIT_BOOT_ERROR = 4  # the worker could not load the application: restarting cannot help
EXIT_PARENT_GONE = 5  # the supervisor died; the child leaves with it
# The supervisor's own exit code when the application cannot load at all (its
# workers exit with EXIT_BOOT_ERROR before any was ready): a restart cannot help.
EXIT_CANNOT_START = EXIT_BOOT_ERROR

Message = dict[str, Any]


class LineTooLong(ValueError):
    """An encoded message does not fit in one atomic pipe write."""


def encode(msg: Mapping[str, Any], limit: int = MAX_LINE) -> bytes:
    """Encode one message as a protocol line; raise LineTooLong past ``limit``."""
    line = json.dumps({"v": VERSION, **msg}, separators=(",", ":"), default=str).encode()
    line += b"\n"
    if len(line) > limit:
        raise LineTooLong(f"message of {len(line)} bytes exceeds {limit}")
    return line


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
    """Incremental parser: feed it bytes as they arrive, get whole messages back.

    Partial lines wait for the rest; malformed and oversize lines are logged and
    skipped, never fatal.
    """

    def __init__(self, name: str, limit: int = MAX_LINE) -> None:
        self.name = name
        self.limit = limit
        self._buffer = b""
        self._discarding = False

    def feed(self, data: bytes) -> list[Message]:
        self._buffer += data
        messages: list[Message] = []
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

    def _parse(self, line: bytes) -> Message | None:
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


class SnapshotWriter:
    """Sends whole lines down a non-blocking pipe to one reader, never blocking.

    Used for snapshots, which may exceed ``PIPE_BUF``: a partial write is
    finished before the next line starts, and while the reader lags, newer lines
    replace the one that has not started yet, since only the latest matters.
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
