"""A few views that exercise a server: trivial, database, slow, CPU-bound, streaming, async."""

import asyncio
import os
import time

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from notes.models import Note


def index(request: HttpRequest) -> HttpResponse:
    return HttpResponse(
        "Hurricane example: /hello /notes /sleep?s=0.02 /cpu?n=200000 /stream?chunks=5 /echo /pid\n"
        "/report /async-sleep?s=0.05 /chat (WebSockets: open it in two tabs)\n",
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


def report(request: HttpRequest) -> JsonResponse:
    """A JSON API view that computes: about 25 ms of pure-Python work here at the default size.

    Builds a nested structure (customers, their orders, each order's lines), totals
    it at every level and serialises a summary of about 150 KiB. Nothing waits.
    """
    size = int(request.GET.get("n", "300"))
    customers = []
    for c in range(size):
        orders = []
        for o in range(8):
            lines = [
                {
                    "sku": f"SKU-{c:04d}-{o}-{k}",
                    "qty": (c * o + k) % 7 + 1,
                    "price": ((c + 1) * (k + 3) % 997) / 10,
                }
                for k in range(10)
            ]
            total = round(sum(line["qty"] * line["price"] for line in lines), 2)
            orders.append({"id": c * 100 + o, "lines": lines, "total": total})
        spent = round(sum(order["total"] for order in orders), 2)
        customers.append({"id": c, "name": f"customer {c}", "orders": orders, "spent": spent})
    ranked = sorted(customers, key=lambda customer: (-customer["spent"], customer["id"]))
    return JsonResponse(
        {
            "count": size,
            "revenue": round(sum(customer["spent"] for customer in customers), 2),
            "top": [{k: v for k, v in customer.items() if k != "orders"} for customer in ranked[:20]],
            "orders": [
                {
                    "customer": customer["id"],
                    "order": order["id"],
                    "total": order["total"],
                    "lines": len(order["lines"]),
                }
                for customer in customers
                for order in customer["orders"]
            ],
        }
    )


async def async_sleep(request: HttpRequest) -> HttpResponse:
    """An async view that waits without holding a thread: ``asyncio.sleep`` of ``s`` seconds (0.05)."""
    seconds = float(request.GET.get("s", "0.05"))
    await asyncio.sleep(min(seconds, 120.0))
    return HttpResponse(f"slept {seconds}s\n", content_type="text/plain")
