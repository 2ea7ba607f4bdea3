"""Loading the Django application in a child process, and saying in one line why it failed."""

from __future__ import annotations

import traceback
from typing import Any


def load_application() -> Any:
    """Load settings, apps, the WSGI app and the URLconf now, not on the first request."""
    import django
    from django.core.servers.basehttp import get_internal_wsgi_application
    from django.urls import get_resolver

    django.setup(set_prefix=False)
    app = get_internal_wsgi_application()
    get_resolver().url_patterns  # noqa: B018 - imports urls.py and the views
    return app


def describe(exc: BaseException) -> str:
    """One line: the exception and where in the project it was raised."""
    text = f"{type(exc).__name__}: {exc}".strip()
    frames = traceback.extract_tb(exc.__traceback__)
    if frames and not isinstance(exc, SyntaxError):
        last = frames[-1]
        text += f" ({last.filename}:{last.lineno})"
    return " ".join(text.split())
