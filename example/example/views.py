"""A few views that exercise a server: trivial, database, slow, CPU-bound, streaming."""

import os
import time

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from notes.models import Note


def index(request: HttpRequest) -> HttpResponse:
    return HttpResponse(
        "Hurricane example: /hello /notes /sleep?s=0.02 /cpu?n=200000 /stream?chunks=5 /echo /pid\n",
        content_type="text/plain",
    )


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Hello, world!\n", content_type="text/plain")


def notes(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {"count": Note.objects.count(), "latest": list(Note.objects.values_list("text", flat=True)[:5])}
    )


def sleep(request: HttpRequest) -> HttpResponse:
    seconds = float(request.GET.get("s", "0.02"))
    time.sleep(min(seconds, 120.0))
    return HttpResponse(f"slept {seconds}s\n", content_type="text/plain")


def cpu(request: HttpRequest) -> HttpResponse:
    n = int(request.GET.get("n", "200000"))
    total = sum(i * i for i in range(n))
    return HttpResponse(f"{total}\n", content_type="text/plain")


def stream(request: HttpRequest) -> StreamingHttpResponse:
    chunks = int(request.GET.get("chunks", "5"))
    delay = float(request.GET.get("delay", "0.1"))

    def produce():
        for i in range(chunks):
            yield f"chunk {i}\n".encode()
            time.sleep(delay)

    return StreamingHttpResponse(produce(), content_type="text/plain")


@csrf_exempt
def echo(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "method": request.method,
            "path": request.path,
            "query": request.GET.dict(),
            "body_bytes": len(request.body),
        }
    )


def pid(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"{os.getpid()}\n", content_type="text/plain")
