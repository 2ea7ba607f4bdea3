"""The access log: one line per response on ``hurricane.access``."""

from __future__ import annotations

import logging

access_log = logging.getLogger("hurricane.access")


def log_response(remote: str, method: str, target: str, status: int) -> None:
    if access_log.isEnabledFor(logging.INFO):
        access_log.info("%s %s %s %d", remote, method, target, status)
