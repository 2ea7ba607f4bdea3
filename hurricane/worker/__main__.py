"""``python -m hurricane.worker --spec-fd N``: one worker process, started by the supervisor
(or forked by the template, which loaded the application first: ``hurricane.template``)."""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import socket
import sys
from dataclasses import dataclass
from typing import Any

from hurricane import event_loop
from hurricane.boot import boot_error, load_application, route_application_errors
from hurricane.worker import asgi
from hurricane.worker.asgi import ASGIApp
from hurricane.worker.async_views import AsyncViews
from hurricane.worker.wsgi import WSGIApp
from supervisor import child, logs, protocol
from supervisor.options import Options
from supervisor.spec import Spec

log = logging.getLogger("hurricane.worker")


@dataclass(frozen=True)
class Loaded:
    """The application a worker serves, loaded before the worker starts (or before the
    template forks it)."""

    wsgi: WSGIApp
    asgi: ASGIApp | None
    async_views: AsyncViews | None


def load(options: Options) -> Loaded:
    """Import the project: raises whatever stops it from loading."""
    wsgi = load_application()
    return Loaded(wsgi, asgi.load_application(), AsyncViews.load(options.threads))


def main(argv: list[str]) -> int:
    spec = child.start(argv)
    parent = child.ParentPipe(spec.pipe)
    options = spec.options
    try:
        loaded = load(options)
    except BaseException as exc:  # any boot failure is reported the same way
        parent.send(boot_error(options, exc, f"worker {spec.index}"))
        return protocol.EXIT_BOOT_ERROR
    logs.configure(options.log_level, options.log_format)
    route_application_errors()
    return serve(spec, loaded, parent)


def serve(spec: Spec, loaded: Loaded, parent: child.ParentPipe) -> int:
    """Run the worker until it has drained; the process ends here."""
    from hurricane.worker.http_worker import HTTPWorker

    # The supervisor sends SIGUSR1 to a hung worker: every thread's stack goes to stderr,
    # from C, so it works even while a C call holds the GIL.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    options = spec.options
    app = add_extras(loaded.wsgi, options, spec.index, parent)
    sock = socket.socket(fileno=spec.fds["app"])
    worker = HTTPWorker(
        app,
        options,
        spec.index,
        sock,
        parent,
        spec.parent_pid,
        spec.request_limit,
        loaded.asgi,
        loaded.async_views,
    )
    try:
        # --debug: asyncio's debug mode logs every callback that blocks the loop over 100 ms.
        event_loop.run(worker.run(), options)
    except asgi.LifespanFailed as exc:
        parent.send(protocol.BootError(f"the ASGI application's startup failed: {exc}"[:2000], os.getpid()))
        return protocol.EXIT_BOOT_ERROR
    # Leave without joining the view threads: a request stuck past --request-timeout
    # must not keep a drained worker alive.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def add_extras(app: Any, options: Options, index: int, parent: child.ParentPipe) -> Any:
    """The optional parts: static and media files; in worker 0, the debugger and the code watcher."""
    if options.debug:
        log.info("worker %d: asyncio debug mode: callbacks that block the loop over 100 ms are logged", index)
    if options.static or options.media:
        from django.conf import settings

        from hurricane.worker import static

        app = static.wrap(app, static.mounts(options, settings))
    if index != 0:
        return app
    if options.debugger or options.pycharm_host:
        from hurricane import debugging

        debugging.start(options)
    if options.autoreload:
        from hurricane.worker import autoreload

        autoreload.start(options, parent)
    return app


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
