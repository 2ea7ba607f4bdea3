"""The supervisor's records of worker processes and of the slots they fill."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from supervisor import protocol
from supervisor.options import Options
from supervisor.process import ChildProcess
from supervisor.restart import RestartPolicy

MiB = 1024 * 1024
MEMORY_STRIKES = 3  # heartbeats in a row above --max-memory: a spike does not recycle


@dataclass
class Worker:
    """One worker process, from spawn to reaping."""

    index: int
    child: ChildProcess
    reader: protocol.LineReader
    spawned_at: float
    request_limit: int | None = None
    age_limit: float | None = None
    last_hb_at: float | None = None
    heartbeat: dict[str, Any] = field(default_factory=dict)
    state: str = "booting"
    boot_error: str | None = None
    retiring: str | None = None  # why we are stopping it, once we are
    kill_at: float | None = None
    recycle: str | None = None  # why it is due for replacement, once it is
    replaces: Worker | None = None  # the worker this one is replacing
    memory_strikes: int = 0

    @property
    def pid(self) -> int:
        return self.child.pid

    @property
    def active(self) -> bool:
        """Serving its slot: alive and not being stopped."""
        return self.retiring is None and self.child.alive

    def label(self) -> str:
        return f"worker {self.index} (pid {self.pid})"


@dataclass
class Slot:
    """One of the ``--workers`` places, kept across the processes that fill it."""

    policy: RestartPolicy = field(default_factory=RestartPolicy)
    restarts: int = 0
    last_exit: str | None = None
    respawn_at: float | None = 0.0
    recycle_after: float = 0.0  # a failed replacement delays the next attempt


def limits(options: Options, rng: random.Random) -> tuple[int | None, float | None]:
    """A new worker's request and age limits, each with its own jitter."""
    requests = None
    if options.max_requests is not None:
        requests = options.max_requests + rng.randint(0, options.max_requests_jitter)
    age = None
    if options.max_worker_age is not None:
        age = options.max_worker_age + rng.uniform(0.0, options.max_worker_age_jitter)
    return requests, age


def recycle_reason(worker: Worker, now: float, options: Options) -> str | None:
    """Why a healthy worker should be replaced now, if it should. Updates memory strikes."""
    hb = worker.heartbeat
    if worker.request_limit is not None and hb.get("requests_total", 0) >= worker.request_limit:
        return "max-requests"
    if options.max_memory is not None and hb.get("rss_bytes"):
        if hb["rss_bytes"] > options.max_memory * MiB:
            worker.memory_strikes += 1
        else:
            worker.memory_strikes = 0
        if worker.memory_strikes >= MEMORY_STRIKES:
            return "max-memory"
    if worker.age_limit is not None and now - worker.spawned_at >= worker.age_limit:
        return "max-age"
    if options.request_timeout is not None and hb.get("oldest_request_s", 0) > options.request_timeout:
        return "request-timeout"
    return None
