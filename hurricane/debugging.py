"""Attach a debugger to worker 0: debugpy (--debugger) or PyCharm's pydevd (--pycharm-host)."""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable
from typing import Any

from supervisor.options import OptionError, Options

log = logging.getLogger("hurricane.worker")

# option -> (module it imports, the extra that installs it, whether its value needs it)
PACKAGES: dict[str, tuple[str, str, Callable[[Any], bool]]] = {
    "debugger": ("debugpy", "debug", bool),
    "pycharm_host": ("pydevd_pycharm", "pycharm", bool),
    "handler": ("pika", "amqp", bool),  # consume's AMQP client
    "loop": ("uvloop", "uvloop", lambda loop: loop == "uvloop"),  # auto falls back to asyncio
}


def check_packages(options: Options) -> None:
    """Fail in one line, before anything starts, when an option lacks its package."""
    for name, (module, extra, needs) in PACKAGES.items():
        if needs(getattr(options, name)) and not importable(module):
            raise OptionError(
                name,
                getattr(options, name),
                "the options",
                f"needs the {module} package: pip install 'hurricane-server[{extra}]'",
            )


def missing_websockets(asgi_application: str | None) -> str | None:
    """Why ASGI_APPLICATION cannot be served (its WebSockets need the websockets package), if so."""
    if asgi_application and not importable("websockets"):
        return (
            f"setting ASGI_APPLICATION {asgi_application!r} serves WebSockets, which need the websockets "
            "package: pip install 'hurricane-server[websockets]'"
        )
    return None


def importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def start(options: Options) -> None:
    """Open the debugger port, or connect to PyCharm, without waiting for a client."""
    if options.debugger:
        import debugpy

        # On --host, like the application: anyone who can reach the app can reach this.
        try:
            host, port = debugpy.listen((options.host, options.debugger_port))
        except Exception as exc:  # the port is taken, by the worker this one replaces, say
            log.error("--debugger cannot listen on port %d: %s", options.debugger_port, exc)
        else:
            log.info("debugpy listening on %s:%d", host, port)
    if options.pycharm_host:
        connect_pycharm(options.pycharm_host, options.pycharm_port or 0)


def connect_pycharm(host: str, port: int) -> None:
    import pydevd_pycharm

    try:
        pydevd_pycharm.settrace(host, port=port, stdoutToServer=True, stderrToServer=True, suspend=False)
    except Exception as exc:  # a missing debug server must not stop the application
        log.warning("cannot connect to the PyCharm debug server at %s:%d: %s", host, port, exc)
        return
    log.info("connected to the PyCharm debug server at %s:%d", host, port)


def attached() -> bool:
    """A debugger client is attached: it may pause the event loop at a breakpoint."""
    debugpy = sys.modules.get("debugpy")
    if debugpy is not None and debugpy.is_client_connected():
        return True
    pydevd = sys.modules.get("pydevd")
    return pydevd is not None and pydevd.get_global_debugger() is not None
