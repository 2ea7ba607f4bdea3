"""Loading the Django application in a child process, and saying in one line why it failed.

An operator reading ``KeyError: 'PAYMENT_API_KEY' (<frozen os>:679)`` learns
nothing about which file to fix, so the one line names the innermost frame in
the project (not the standard library, not an installed package, not Hurricane
or Django); the whole traceback goes to the log at DEBUG.
"""

from __future__ import annotations

import logging
import os
import site
import sysconfig
import traceback
from functools import cache
from typing import Any

from supervisor import logs, protocol
from supervisor.options import Options


def load_application() -> Any:
    """Load settings, apps, the WSGI app and the URLconf now, not on the first request."""
    import django
    from django.core.servers.basehttp import get_internal_wsgi_application
    from django.urls import get_resolver

    django.setup(set_prefix=False)
    app = get_internal_wsgi_application()
    get_resolver().url_patterns  # noqa: B018 - imports urls.py and the views
    return app


def route_application_errors() -> None:
    """Send Django's ``django.request`` errors (a view that raised, with its traceback) to
    Hurricane's log, unless the project's LOGGING decides where they go.

    Django's default configuration prints them only with DEBUG = True and otherwise
    mails them to ADMINS (which still happens): in production they were invisible.
    """
    from django.conf import settings

    handler = logs.own_handler()
    logger = logging.getLogger("django.request")
    configured = (getattr(settings, "LOGGING", None) or {}).get("loggers", {})
    if handler is None or logger.handlers or "django.request" in configured:
        return
    logger.addHandler(handler)


def describe(exc: BaseException) -> str:
    """One line: the exception, what caused it, and where in the project it was raised."""
    text = _exception(exc)
    cause = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    if cause is not None:
        text += f" (caused by {_exception(cause)})"
    where = location(exc)
    if where:
        text += f" at {where}"
    return " ".join(text.split())


def boot_error(options: Options, exc: BaseException, who: str) -> protocol.BootError:
    """What a child that cannot load the application tells the supervisor, in one line; the
    traceback goes to its log at DEBUG."""
    logs.configure(options.log_level, options.log_format)
    logging.getLogger("hurricane.worker").debug("%s cannot load the application", who, exc_info=exc)
    return protocol.BootError((describe(exc) + hint(options))[:2000], os.getpid())


def hint(options: Options) -> str:
    """Where the traceback is, for a one-line error: in the log, unless DEBUG is off."""
    return "" if options.log_level == "DEBUG" else " (--log-level DEBUG shows the traceback)"


def location(exc: BaseException) -> str | None:
    """``path:line in function`` of the innermost project frame of ``exc`` or what caused it."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for error in reversed(chain):  # the root cause first: that is where the fix goes
        if isinstance(error, SyntaxError) and error.filename and is_project_file(error.filename):
            return f"{shown(error.filename)}:{error.lineno}"
        for frame in reversed(traceback.extract_tb(error.__traceback__)):
            if is_project_file(frame.filename):
                return f"{shown(frame.filename)}:{frame.lineno} in {frame.name}"
    return None


def is_project_file(filename: str) -> bool:
    if filename.startswith("<"):  # <frozen os>, <string>
        return False
    path = os.path.realpath(filename)
    return not any(path.startswith(prefix) for prefix in _library_dirs())


def shown(filename: str) -> str:
    """The path relative to the working directory when it is below it."""
    relative = os.path.relpath(filename)
    return filename if relative.startswith("..") else relative


@cache
def _library_dirs() -> tuple[str, ...]:
    """Where code that is not the project's lives: the standard library, installed packages,
    and Hurricane and Django themselves (also when installed from a source checkout)."""
    dirs = {sysconfig.get_path(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    dirs.update(site.getsitepackages())
    dirs.add(site.getusersitepackages())
    import django

    import hurricane
    import supervisor

    for package in (django, hurricane, supervisor):
        dirs.add(os.path.dirname(os.path.realpath(package.__file__ or "")))
    return tuple(os.path.join(os.path.realpath(d), "") for d in dirs if d)


def _exception(exc: BaseException) -> str:
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
