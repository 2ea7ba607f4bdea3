import ctypes
import os

from django.http import HttpRequest, HttpResponse

_hoard: list[bytes] = []


def hold_gil(request: HttpRequest) -> HttpResponse:
    """Block in a C call that keeps the GIL: the whole worker, event loop included, stalls."""
    seconds = int(request.GET.get("s", "30"))
    ctypes.PyDLL(None).sleep(seconds)
    return HttpResponse("woke\n")


def hoard(request: HttpRequest) -> HttpResponse:
    """Grow resident memory by ``mb`` MiB and keep it."""
    mb = int(request.GET.get("mb", "50"))
    _hoard.append(os.urandom(mb * 1024 * 1024))
    return HttpResponse(f"hoarding {len(_hoard)} blocks\n")


def bad_length(request: HttpRequest) -> HttpResponse:
    """A response whose Content-Length cannot be sent as it is."""
    response = HttpResponse("hello")
    response["Content-Length"] = "5, 5"
    return response


def orphan(request: HttpRequest) -> HttpResponse:
    """Leave an orphan: a grandchild whose parent exits at once, so PID 1 must reap it."""
    pid = os.fork()
    if pid == 0:
        if os.fork() == 0:
            os._exit(0)  # the orphan: exits at once and needs reaping by init
        os._exit(0)
    os.waitpid(pid, 0)
    return HttpResponse("orphaned\n")
