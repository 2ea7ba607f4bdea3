"""Async views (and a recording middleware) for the tests of the async path."""

import asyncio
import json
import os
import threading

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import include, path
from django.utils.deprecation import MiddlewareMixin
from notes.models import Note


class RecordThread(MiddlewareMixin):
    """Notes which thread ran its hooks: Django's own middleware is built the same way."""

    def process_request(self, request: HttpRequest) -> None:
        request.hooks_thread = threading.current_thread().name

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        response["X-Hooks-Thread"] = threading.current_thread().name
        return response


async def where(request: HttpRequest) -> JsonResponse:
    loop = asyncio.get_running_loop()
    return JsonResponse(
        {"thread": threading.current_thread().name, "loop": id(loop), "hooks": request.hooks_thread}
    )


async def notes(request: HttpRequest) -> JsonResponse:
    await Note.objects.acreate(text=request.GET.get("text", "async"))
    latest = await Note.objects.order_by("-id").afirst()
    return JsonResponse({"count": await Note.objects.acount(), "latest": latest.text if latest else None})


async def sleep(request: HttpRequest) -> HttpResponse:
    await asyncio.sleep(float(request.GET.get("s", "0.05")))
    return HttpResponse(b"slept\n", content_type="text/plain")


async def stream(request: HttpRequest) -> StreamingHttpResponse:
    chunks, delay = int(request.GET.get("chunks", "3")), float(request.GET.get("delay", "0.3"))

    async def produce():
        for i in range(chunks):
            yield f"chunk {i}\n".encode()
            await asyncio.sleep(delay)

    return StreamingHttpResponse(produce(), content_type="text/plain")


async def fail(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("this async view always fails")


async def abandoned(request: HttpRequest) -> HttpResponse:
    """Sleeps long; if the client leaves first the view is cancelled, and says so in a file."""
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        with open(os.environ["ASYNC_MARKER"], "w") as marker:
            json.dump({"cancelled": True}, marker)
        raise
    return HttpResponse(b"nobody waited\n")


urlpatterns = [
    path("a/where", where),
    path("a/notes", notes),
    path("a/sleep", sleep),
    path("a/stream", stream),
    path("a/fail", fail),
    path("a/abandoned", abandoned),
    path("", include("example.urls")),
]
