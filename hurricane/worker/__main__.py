"""``python -m hurricane.worker --spec JSON``: one worker process, started by the supervisor."""

from __future__ import annotations

import asyncio
import faulthandler
import logging
import os
import signal
import socket
import sys
import traceback
from typing import Any

from supervisor import child, logs, protocol
from supervisor.options import Options

log = logging.getLogger("hurricane.worker")


def main(argv: list[str]) -> int:
    spec = child.read_spec(argv)
    parent = int(spec["parent_pid"])
    child.follow_parent(parent)
    pipe = int(spec["pipe"])
    os.set_blocking(pipe, False)
    # The supervisor sends SIGUSR1 to a hung worker: every thread's stack goes to stderr,
    # from C, so it works even while a C call holds the GIL.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    options = Options.from_json(spec["options"])
    try:
        app = load_application()
    except BaseException as exc:  # noqa: BLE001 - any boot failure is reported the same way
        report_boot_error(pipe, exc)
        return protocol.EXIT_BOOT_ERROR
    logs.configure(options.log_level, options.log_format)
    from hurricane.worker.serve import Worker

    index = int(spec["index"])
    app = add_extras(app, options, index, pipe)
    worker = Worker(app, options, index, socket.socket(fileno=int(spec["app_fd"])), pipe, parent)
    # --debug: asyncio's debug mode logs every callback that blocks the loop over 100 ms.
    asyncio.run(worker.run(), debug=options.debug)
    # Leave without joining the view threads: a request stuck past --request-timeout
    # must not keep a drained worker alive.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def load_application() -> Any:
    """Load settings, apps, the WSGI app and the URLconf now, not on the first request."""
    import django
    from django.core.servers.basehttp import get_internal_wsgi_application
    from django.urls import get_resolver

    django.setup(set_prefix=False)
    app = get_internal_wsgi_application()
    get_resolver().url_patterns  # noqa: B018 - imports urls.py and the views
    return app


def add_extras(app: Any, options: Options, index: int, pipe: int) -> Any:
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

        autoreload.start(options, pipe)
    return app


def describe(exc: BaseException) -> str:
    """One line: the exception and where in the project it was raised."""
    text = f"{type(exc).__name__}: {exc}".strip()
    frames = traceback.extract_tb(exc.__traceback__)
    if frames and not isinstance(exc, SyntaxError):
        last = frames[-1]
        text += f" ({last.filename}:{last.lineno})"
    return " ".join(text.split())


def report_boot_error(pipe: int, exc: BaseException) -> None:
    line = protocol.encode({"type": "boot_error", "pid": os.getpid(), "error": describe(exc)[:2000]})
    try:
        protocol.write_line(pipe, line)
    except BrokenPipeError:
        print(describe(exc), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
