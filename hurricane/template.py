"""``python -m hurricane.template --spec-fd N``: the worker template.

It loads the application once (Django, the WSGI and ASGI applications, the
URLconf and the views), closes what must not cross a fork (database
connections), freezes the garbage collector's view of what it loaded (so the
workers' collections do not touch, and copy, the shared pages) and then forks
workers when the supervisor asks. Each worker is forked twice over, so that it
is the supervisor's child (the supervisor is a child subreaper): the supervisor
reaps, signals and watches it exactly as a worker it started itself.
docs/architecture.md describes the exchange.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import os
import signal
import socket
import sys
import threading
import time

from hurricane import event_loop
from hurricane.boot import boot_error, route_application_errors
from hurricane.worker import __main__ as worker
from supervisor import channel, child, logs, protocol
from supervisor.options import Options
from supervisor.spec import Spec

log = logging.getLogger("hurricane.worker")

REPARENT_TIMEOUT = 5.0  # seconds a new worker waits to become the supervisor's child


def main(argv: list[str]) -> int:
    spec = child.start(argv)
    # SIGTERM (the supervisor letting it go, or a signal to the whole service) ends it cleanly.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    control = socket.socket(fileno=spec.fds["control"])
    options = spec.options
    try:
        loaded = worker.load(options)
        preload(loaded, options)
    except BaseException as exc:  # any boot failure is reported the same way
        channel.send(control, boot_error(options, exc, "the worker template"))
        return protocol.EXIT_BOOT_ERROR
    logs.configure(options.log_level, options.log_format)
    route_application_errors()
    settle({spec.fds["app"], spec.fds["control"]})
    channel.send(control, protocol.TemplateReady(os.getpid()))
    log.debug("worker template ready (pid %d)", os.getpid())
    while True:
        message, fds = channel.receive(control)
        if message is None:
            return 0  # the supervisor closed the channel: it is done with this template
        request = protocol.decode_fork(message, "supervisor")
        if request is None or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            continue
        pid = fork_worker(spec, request, fds[0], loaded, control)
        os.close(fds[0])  # the worker's heartbeat pipe is the worker's alone now
        channel.send(control, protocol.WorkerForked(request.index, pid))


def preload(loaded: worker.Loaded, options: Options) -> None:
    """Do once what every worker would do for itself, so they share it: import the worker's
    modules (the WebSocket ones too, when there is an ASGI application) and its event loop's,
    and run one round of checks, which imports what the checks need."""
    from hurricane.checks import CheckRunner
    from hurricane.worker import http_worker  # noqa: F401

    if loaded.asgi is not None:
        from hurricane.worker import upgrades  # noqa: F401
    if event_loop.chosen(options) == "uvloop":
        import uvloop  # noqa: F401
    CheckRunner(options.check_interval, options.check_timeout).run_round()


def settle(keep: set[int]) -> None:
    """Leave nothing behind that a fork would share: database connections closed, and the
    objects loaded so far out of the collector's reach (a collection writes to every object
    it visits, which would copy the shared pages into each worker)."""
    from django.db import connections

    connections.close_all()
    gc.collect()
    gc.freeze()
    sockets = open_sockets() - keep
    if sockets:
        log.warning(
            "the application opened %d socket(s) while loading: every worker shares them; if they "
            "carry a connection (a cache, a broker), open it in the workers, or serve with --no-preload",
            len(sockets),
        )
    others = [t.name for t in threading.enumerate() if t is not threading.current_thread()]
    if others:
        log.warning(
            "the application started %d thread(s) while loading (%s): they do not run in the workers; "
            "if it needs them there, serve with --no-preload",
            len(others),
            ", ".join(others[:5]),
        )


def open_sockets() -> set[int]:
    """The descriptors of this process that are sockets."""
    found = set()
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                found.add(int(name))
        except OSError:
            continue  # closed meanwhile (the listing's own descriptor)
    return found


def fork_worker(
    spec: Spec, request: protocol.ForkWorker, pipe: int, loaded: worker.Loaded, control: socket.socket
) -> int:
    """Fork a worker that becomes the supervisor's child; its pid."""
    from django.db import connections

    connections.close_all()  # in case anything touched the database since
    pid_r, pid_w = os.pipe()
    middle = os.fork()
    if middle == 0:  # the short-lived child: forks the worker, tells its pid, leaves it an orphan
        try:
            os.close(pid_r)
            pid = os.fork()
            if pid == 0:
                os.close(pid_w)
                run_worker(spec, request, pipe, loaded, control)
            os.write(pid_w, str(pid).encode())
        finally:
            os._exit(0)
    os.close(pid_w)
    with os.fdopen(pid_r, "rb") as answer:
        pid_text = answer.read()
    os.waitpid(middle, 0)
    return int(pid_text)


def run_worker(
    spec: Spec, request: protocol.ForkWorker, pipe: int, loaded: worker.Loaded, control: socket.socket
) -> None:
    """In the forked worker: become the supervisor's child in earnest, then serve. Never returns."""
    code = protocol.EXIT_BOOT_ERROR
    try:
        control.close()
        wait_for_reparenting(spec.parent_pid)
        os.setpgid(0, 0)  # a process group of its own, like every child of the supervisor
        for signum in (signal.SIGTERM, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        mine = dataclasses.replace(
            spec,
            role="worker",
            pipe=pipe,
            index=request.index,
            fds={"app": spec.fds["app"]},
            request_limit=request.request_limit,
        )
        child.begin(mine)
        code = worker.serve(mine, loaded, child.ParentPipe(pipe))
    except BaseException:
        log.exception("a forked worker failed to start")
    finally:
        logging.shutdown()
        os._exit(code)


def wait_for_reparenting(supervisor: int) -> None:
    """The middle process exits right after the fork; until then it is this process's parent."""
    deadline = time.monotonic() + REPARENT_TIMEOUT
    while os.getppid() != supervisor:
        if time.monotonic() > deadline:
            os._exit(protocol.EXIT_PARENT_GONE)
        time.sleep(0.0005)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
