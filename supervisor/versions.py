"""Which Hurricane, Django and Python are running: for --version, the start-up line, the probes
and /metrics. Django's version is read from its installed metadata, never by importing it."""

from __future__ import annotations

import platform
from functools import cache
from importlib import metadata

import supervisor


@cache
def versions() -> dict[str, str]:
    try:
        django = metadata.version("django")
    except metadata.PackageNotFoundError:
        django = "not installed"
    return {"hurricane": supervisor.__version__, "django": django, "python": platform.python_version()}


def line() -> str:
    found = versions()
    return f"Hurricane {found['hurricane']} (Django {found['django']}, Python {found['python']})"
