"""The access log: one line per response on ``hurricane.access``, in ``--access-log-format``.

The format names fields in braces (``str.format`` syntax, so ``{duration_ms:.1f}``
works); ``FIELDS`` lists them. With ``--log-format json`` every field is also a key
of the line's JSON object.
"""

from __future__ import annotations

import logging
from typing import Any

from supervisor.options import ACCESS_LOG_FIELDS

access_log = logging.getLogger("hurricane.access")

FIELDS = ACCESS_LOG_FIELDS


class AccessLog:
    def __init__(self, fmt: str) -> None:
        self.format = fmt

    @property
    def enabled(self) -> bool:
        return access_log.isEnabledFor(logging.INFO)

    def log(self, fields: dict[str, Any]) -> None:
        access_log.info(self.format.format_map(fields), extra=fields)


def request_fields(
    environ: dict[str, Any], target: str, status: int, sent: int, seconds: float, worker: int
) -> dict[str, Any]:
    """The fields of one response (only built while the access log is on)."""
    return {
        "remote": environ.get("REMOTE_ADDR", "-"),
        "method": environ.get("REQUEST_METHOD", "-"),
        "target": target,
        "path": target.partition("?")[0],
        "query": environ.get("QUERY_STRING", ""),
        "protocol": environ.get("SERVER_PROTOCOL", "-"),
        "status": status,
        "bytes": sent,
        "duration_ms": round(seconds * 1000, 3),
        "duration_s": round(seconds, 6),
        "host": environ.get("HTTP_HOST", "-"),
        "user_agent": environ.get("HTTP_USER_AGENT", "-"),
        "referer": environ.get("HTTP_REFERER", "-"),
        "request_id": environ.get("HTTP_X_REQUEST_ID", "-"),
        "worker": worker,
    }
