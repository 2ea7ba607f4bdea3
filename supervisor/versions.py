"""Which Hurricane, Django and Python are running: for --version, the start-up line, the probes
and /metrics. ``serve`` knows Django's version and passes it on in the launch spec; the
supervisor and the probe never import Django (nor importlib.metadata) to learn it."""

from __future__ import annotations

import platform

import supervisor

Versions = dict[str, str]


def collect(django: str) -> Versions:
    return {"hurricane": supervisor.__version__, "django": django, "python": platform.python_version()}


def line(found: Versions) -> str:
    return f"Hurricane {found['hurricane']} (Django {found['django']}, Python {found['python']})"
