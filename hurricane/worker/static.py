"""``--static`` and ``--media``: serve STATIC_ROOT and MEDIA_ROOT from the worker.

A WSGI wrapper in front of Django: files are streamed in chunks on a view thread,
with ETag and Last-Modified, 304 for conditional requests and 206 for one byte range.
"""

from __future__ import annotations

import logging
import mimetypes
import re
from collections.abc import Callable, Iterable, Iterator
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any, BinaryIO

log = logging.getLogger("hurricane.worker")

CHUNK = 64 * 1024
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def mounts(options: Any, settings: Any) -> list[tuple[str, Path]]:
    """(URL prefix, directory) for each of --static and --media that can be served."""
    wanted = []
    if options.static:
        wanted.append(("--static", "STATIC", settings.STATIC_URL, settings.STATIC_ROOT))
    if options.media:
        wanted.append(("--media", "MEDIA", settings.MEDIA_URL, settings.MEDIA_ROOT))
    found = []
    for flag, name, url, root in wanted:
        if not url or not str(url).startswith("/") or not root:
            log.warning("%s: %s_URL must be a path and %s_ROOT set; not serving them", flag, name, name)
            continue
        found.append((str(url).rstrip("/") + "/", Path(root).resolve()))
    return found


def wrap(app: WSGIApp, served: list[tuple[str, Path]]) -> WSGIApp:
    return FileServer(app, served) if served else app


class FileServer:
    def __init__(self, app: WSGIApp, served: list[tuple[str, Path]]) -> None:
        self.app = app
        self.served = served

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        for prefix, root in self.served:
            if path.startswith(prefix):
                # PEP 3333 carries the path as latin-1; file names are UTF-8.
                name = path[len(prefix) :].encode("latin-1").decode("utf-8", "replace")
                return serve_file(root, name, environ, start_response)
        return self.app(environ, start_response)


def find(root: Path, name: str) -> Path | None:
    try:
        target = (root / name).resolve()
    except (OSError, ValueError):
        return None
    if not target.is_relative_to(root) or not target.is_file():
        return None  # outside the root (../), a directory, or missing
    return target


def serve_file(
    root: Path, name: str, environ: dict[str, Any], start_response: Callable[..., Any]
) -> Iterable[bytes]:
    method = environ.get("REQUEST_METHOD", "GET")
    if method not in ("GET", "HEAD"):
        start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Length", "0")])
        return []
    target = find(root, name)
    if target is None:
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "10")])
        return [b"Not Found\n"]
    stat = target.stat()
    etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
    headers = [
        ("ETag", etag),
        ("Last-Modified", formatdate(stat.st_mtime, usegmt=True)),
        ("Accept-Ranges", "bytes"),
    ]
    if not_modified(environ, etag, stat.st_mtime):
        start_response("304 Not Modified", headers)
        return []
    kind, encoding = mimetypes.guess_type(target.name)
    headers.append(("Content-Type", kind or "application/octet-stream"))
    if encoding:
        headers.append(("Content-Encoding", encoding))
    size = stat.st_size
    wanted = byte_range(environ.get("HTTP_RANGE", ""), size) if if_range_ok(environ, etag) else None
    if wanted == "unsatisfiable":
        start_response(
            "416 Range Not Satisfiable", [("Content-Range", f"bytes */{size}"), ("Content-Length", "0")]
        )
        return []
    status, first, last = "200 OK", 0, size - 1
    if isinstance(wanted, tuple):
        status, (first, last) = "206 Partial Content", wanted
        headers.append(("Content-Range", f"bytes {first}-{last}/{size}"))
    headers.append(("Content-Length", str(last - first + 1)))
    start_response(status, headers)
    if method == "HEAD":
        return []
    return FileChunks(target.open("rb"), first, last - first + 1)


def not_modified(environ: dict[str, Any], etag: str, mtime: float) -> bool:
    match = environ.get("HTTP_IF_NONE_MATCH")
    if match is not None:  # If-None-Match wins over If-Modified-Since (RFC 9110)
        return match.strip() == "*" or etag in [t.strip().removeprefix("W/") for t in match.split(",")]
    since = environ.get("HTTP_IF_MODIFIED_SINCE")
    if since is None:
        return False
    try:
        return int(mtime) <= parsedate_to_datetime(since).timestamp()
    except (TypeError, ValueError):
        return False


def if_range_ok(environ: dict[str, Any], etag: str) -> bool:
    """If-Range: serve the range only if the client's copy is still current."""
    condition = environ.get("HTTP_IF_RANGE")
    return condition is None or condition.strip() == etag


def byte_range(header: str, size: int) -> tuple[int, int] | str | None:
    """One ``bytes=`` range as (first, last); None to send everything; "unsatisfiable"."""
    match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if not match or (not match.group(1) and not match.group(2)):
        return None  # absent, malformed or several ranges: a full response is allowed
    if not match.group(1):  # the last N bytes
        length = int(match.group(2))
        return (max(0, size - length), size - 1) if length and size else "unsatisfiable"
    first = int(match.group(1))
    last = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
    if first >= size or last < first:
        return "unsatisfiable"
    return first, last


class FileChunks:
    """The response body: ``length`` bytes from ``start``, read as they are sent."""

    def __init__(self, handle: BinaryIO, start: int, length: int) -> None:
        self.handle = handle
        self.start = start
        self.length = length

    def __iter__(self) -> Iterator[bytes]:
        self.handle.seek(self.start)
        left = self.length
        while left > 0:
            chunk = self.handle.read(min(CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk

    def close(self) -> None:
        self.handle.close()


# Served types the platform's table may lack.
mimetypes.add_type("text/javascript", ".mjs")
mimetypes.add_type("image/webp", ".webp")
