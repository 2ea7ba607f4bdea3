"""``python -m hurricane.consumer --spec-fd N``: one consumer worker, started by the supervisor."""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import sys

from hurricane import event_loop
from hurricane.boot import describe
from hurricane.consumer.handlers import Handler
from supervisor import child, logs, protocol
from supervisor.spec import Spec

log = logging.getLogger("hurricane.consumer")


def main(argv: list[str]) -> int:
    spec = child.start(argv, "consumer")
    parent = child.ParentPipe(spec.pipe)
    # The supervisor sends SIGUSR1 to a hung worker: every thread's stack goes to stderr.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        handler = load(spec)
    except BaseException as exc:  # any boot failure is reported the same way
        parent.send(protocol.BootError(describe(exc)[:2000], os.getpid()))
        return protocol.EXIT_BOOT_ERROR
    logs.configure(spec.options.log_level, spec.options.log_format)
    quiet_pika(spec.options.log_level)
    run(handler, spec, parent)
    # Leave without joining the handler threads: one stuck past the graceful timeout
    # must not keep a drained worker alive.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def load(spec: Spec) -> Handler:
    """Django, then the handler the options name (a HandlerError says why it cannot load)."""
    import django

    from hurricane.consumer import handlers

    django.setup(set_prefix=False)
    assert spec.options.handler is not None
    return handlers.adapt(handlers.load(spec.options.handler), spec.options)


def run(handler: Handler, spec: Spec, parent: child.ParentPipe) -> None:
    """One consumer worker's life, given its loaded handler: this is all a worker forked
    from a preloaded process needs to do."""
    from hurricane.consumer.worker import ConsumerWorker

    options = spec.options
    if spec.index == 0 and options.autoreload:
        from hurricane.worker import autoreload

        autoreload.start(options, parent)
    worker = ConsumerWorker(handler, options, spec.index, parent, spec.parent_pid)
    event_loop.run(worker.run(), options)


def quiet_pika(level: str) -> None:
    """pika logs every failed connection attempt at length, and ours says it in one line;
    its debug output is never on (it may show what it sends, credentials included)."""
    logging.getLogger("pika").setLevel(logging.WARNING if level == "DEBUG" else logging.CRITICAL)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
