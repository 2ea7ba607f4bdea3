"""What a process is told at launch, carried by an inherited descriptor.

Specs never travel on a command line, where any local user can read them with
``ps``: the options may hold a webhook URL with a token in its path.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from supervisor.options import Options
from supervisor.protocol import WorkerKind


@dataclass(frozen=True)
class Spec:
    """A child's launch spec, written by ``process.spawn``."""

    role: str
    options: Options
    parent_pid: int
    pipe: int = -1  # the child's end of its pipe to or from the supervisor
    index: int = 0
    fds: dict[str, int] = field(default_factory=dict)  # inherited sockets by name ("app", "probe")
    request_limit: int | None = None  # --max-requests with this worker's jitter

    def to_json(self) -> str:
        return json.dumps(
            {
                "role": self.role,
                "options": self.options.to_dict(),
                "parent_pid": self.parent_pid,
                "pipe": self.pipe,
                "index": self.index,
                "fds": self.fds,
                "request_limit": self.request_limit,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Spec:
        data = json.loads(text)
        return cls(
            role=str(data["role"]),
            options=Options.from_dict(data["options"]),
            parent_pid=int(data["parent_pid"]),
            pipe=int(data["pipe"]),
            index=int(data["index"]),
            fds={str(k): int(v) for k, v in data["fds"].items()},
            request_limit=data.get("request_limit"),
        )


@dataclass(frozen=True)
class LaunchSpec:
    """The supervisor's launch spec, written by ``serve`` or ``consume``: the options, the
    command lines of the Django children, and what kind of worker ``worker_argv`` starts."""

    options: Options
    worker_argv: list[str]
    prestart_argv: list[str] | None = None
    versions: dict[str, str] = field(default_factory=dict)  # Hurricane's, Django's, Python's
    template_argv: list[str] | None = None  # None: every worker is a fresh interpreter
    kind: WorkerKind = WorkerKind.HTTP

    def to_json(self) -> str:
        data = {
            "options": self.options.to_dict(),
            "worker": self.worker_argv,
            "prestart": self.prestart_argv,
            "versions": self.versions,
            "template": self.template_argv,
            "kind": self.kind,
        }
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> LaunchSpec:
        data = json.loads(text)
        options = Options.from_dict(data["options"])
        versions = dict(data.get("versions", {}))
        kind = WorkerKind(data.get("kind", WorkerKind.HTTP))
        return cls(options, list(data["worker"]), data.get("prestart"), versions, data.get("template"), kind)


def write_descriptor(data: bytes) -> int:
    """An inheritable descriptor to read ``data`` from: an anonymous memory file where
    there are those, else a pipe (a spec is a few KiB, well within a pipe's buffer)."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("hurricane-spec", 0)  # no MFD_CLOEXEC: it must cross exec
        os.write(fd, data)
        os.lseek(fd, 0, os.SEEK_SET)
    else:
        fd, write_end = os.pipe()
        os.write(write_end, data)
        os.close(write_end)
    os.set_inheritable(fd, True)
    return fd


def read_descriptor(fd: int) -> str:
    """All of what the descriptor holds; it is closed after."""
    with os.fdopen(fd, "rb") as source:
        return source.read().decode()
