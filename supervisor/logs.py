"""Logging for Hurricane's processes: the ``hurricane`` logger hierarchy.

``hurricane.supervisor``, ``hurricane.probe``, ``hurricane.worker`` and
``hurricane.access`` are the contract. Without any logging configuration they
print INFO lines to stderr, as text or as one JSON object per line. In a worker,
a Django ``LOGGING`` setting that gives ``hurricane`` or the root logger a
handler takes over: then we only supply a level, and only if it set none.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s[%(process)d]: %(message)s"
ROOT = "hurricane"

# Attributes every LogRecord has; anything else was passed as ``extra``.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, pid, message, and any ``extra``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        entry.update((k, v) for k, v in record.__dict__.items() if k not in _STANDARD)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


def formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)


_handler: logging.Handler | None = None  # ours, when no configuration gave the loggers one


def configure(level: str, fmt: str = "text") -> None:
    """Make the ``hurricane`` loggers print, unless a handler for them is in place already."""
    global _handler
    logger = logging.getLogger(ROOT)
    _enable_hierarchy()
    if logger.handlers or logging.getLogger().handlers:
        if logger.level == logging.NOTSET:
            logger.setLevel(level)
        return
    logger.setLevel(level)
    _handler = logging.StreamHandler(sys.stderr)
    _handler.setFormatter(formatter(fmt))
    logger.addHandler(_handler)


def own_handler() -> logging.Handler | None:
    """The handler ``configure()`` installed, if the logging configuration left it to us."""
    return _handler


def _enable_hierarchy() -> None:
    """Undo ``disable_existing_loggers``: a LOGGING dict without that key silences every
    logger created before it, such as ours imported ahead of ``django.setup()``.
    A configuration that wants them quiet sets a level or handlers instead."""
    for name, logger in logging.root.manager.loggerDict.items():
        if (name == ROOT or name.startswith(ROOT + ".")) and isinstance(logger, logging.Logger):
            logger.disabled = False
