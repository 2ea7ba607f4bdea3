"""``python -m hurricane.worker --spec-fd N``: one worker process, started by the supervisor."""

from __future__ import annotations

import asyncio
import faulthandler
import logging
import os
import signal
import socket
import sys
from typing import Any

from hurricane.boot import describe, hint, load_application, route_application_errors
from hurricane.worker import asgi
from supervisor import child, logs, protocol
from supervisor.options import Options

log = logging.getLogger("hurricane.worker")


def main(argv: list[str]) -> int:
    spec = child.start(argv)
    parent = child.ParentPipe(spec.pipe)
    # The supervisor sends SIGUSR1 to a hung worker: every thread's stack goes to stderr,
    # from C, so it works even while a C call holds the GIL.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    options = spec.options
    try:
        app = load_application()
        asgi_app = asgi.load_application()
    except BaseException as exc:  # any boot failure is reported the same way
        logs.configure(options.log_level, options.log_format)
        log.debug("worker %d cannot load the application", spec.index, exc_info=exc)
        parent.send(protocol.BootError((describe(exc) + hint(options))[:2000], os.getpid()))
        return protocol.EXIT_BOOT_ERROR
    logs.configure(options.log_level, options.log_format)
    route_application_errors()
    from hurricane.worker.http_worker import HTTPWorker

    app = add_extras(app, options, spec.index, parent)
    sock = socket.socket(fileno=spec.fds["app"])
    worker = HTTPWorker(app, options, spec.index, sock, parent, spec.parent_pid, spec.request_limit, asgi_app)
    try:
        # --debug: asyncio's debug mode logs every callback that blocks the loop over 100 ms.
        asyncio.run(worker.run(), debug=options.debug)
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
