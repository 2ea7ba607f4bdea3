"""Views that exercise the HTTP layer: large files and streams, bodies, the environ."""

import asyncio
import hashlib
import os
import tempfile
import time

from django.db import connection
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

MiB = 1024 * 1024


def environ(request: HttpRequest, rest: str = "") -> JsonResponse:
    meta = request.META
    keys = ("REMOTE_ADDR", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_PROTOCOL", "wsgi.url_scheme")
    return JsonResponse(
        {
            **{key: meta.get(key) for key in keys},
            "path": request.path,
            "rest": rest,
            "absolute": request.build_absolute_uri(),
            "forbidden": [key for key in ("HTTP_CONTENT_LENGTH", "HTTP_CONTENT_TYPE") if key in meta],
        }
    )


@csrf_exempt
def digest(request: HttpRequest) -> JsonResponse:
    """Read the body in pieces, as an upload handler would, and return its size and hash."""
    sha = hashlib.sha256()
    size = 0
    while block := request.read(65536):
        sha.update(block)
        size += len(block)
    return JsonResponse({"size": size, "sha256": sha.hexdigest()})


def big_stream(request: HttpRequest) -> StreamingHttpResponse:
    """``mib`` MiB in 64 KiB chunks, as fast as the client takes them."""
    count = int(request.GET.get("mib", "1")) * 16
    block = b"x" * 65536
    return StreamingHttpResponse((block for _ in range(count)), content_type="application/octet-stream")


def slow_stream(request: HttpRequest) -> StreamingHttpResponse:
    chunks, delay = int(request.GET["chunks"]), float(request.GET["delay"])

    def produce():
        for i in range(chunks):
            yield f"{time.monotonic():.6f} chunk {i}\n".encode()
            time.sleep(delay)

    return StreamingHttpResponse(produce(), content_type="text/plain")


def big(request: HttpRequest) -> HttpResponse:
    """``mib`` MiB in one piece: the whole body reaches the connection in one write."""
    return HttpResponse(
        b"x" * (int(request.GET.get("mib", "1")) * MiB), content_type="application/octet-stream"
    )


def big_file(request: HttpRequest) -> FileResponse:
    """A sparse temporary file of ``mib`` MiB, unlinked at once: only the open file remains."""
    file = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it
    file.truncate(int(request.GET.get("mib", "1")) * MiB)
    return FileResponse(file, content_type="application/octet-stream")


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("this view always fails")


def db_value(value: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s", [value])
        return cursor.fetchone()[0]


def db(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"{db_value(1)}\n", content_type="text/plain")


def db_stream(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(f"{db_value(i)}\n".encode() for i in range(3))


async def async_view(request: HttpRequest) -> HttpResponse:
    await asyncio.sleep(0)
    return HttpResponse(b"async\n", content_type="text/plain")


def pid(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"{os.getpid()}\n", content_type="text/plain")


urlpatterns = [
    path("environ", environ),
    path("environ/<path:rest>", environ),
    path("digest", digest),
    path("big", big),
    path("big-stream", big_stream),
    path("slow-stream", slow_stream),
    path("big-file", big_file),
    path("boom", boom),
    path("db", db),
    path("db-stream", db_stream),
    path("async", async_view),
    path("", include("example.urls")),
]
