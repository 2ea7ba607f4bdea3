"""The supervisor's record of each worker process, and of the slots they fill."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from supervisor.options import Options
from supervisor.process import ChildProcess
from supervisor.protocol import Heartbeat, MessageCounts, Outcome, RestartReason, WorkerState
from supervisor.restart import RestartPolicy

MiB = 1024 * 1024
MEMORY_STRIKES = 3  # heartbeats in a row above --max-memory: a spike does not recycle


@dataclass
class Stopping:
    """A worker asked to drain and exit: why, and when SIGKILL follows."""

    reason: RestartReason
    kill_at: float | None


@dataclass
class WorkerHandle:
    """One worker process, from spawn to reaping."""

    index: int
    child: ChildProcess
    spawned_at: float
    request_limit: int | None = None
    age_limit: float | None = None
    last_hb_at: float | None = None
    heartbeat: Heartbeat = field(default_factory=Heartbeat)
    boot_error: str | None = None
    stopping: Stopping | None = None
    memory_strikes: int = 0

    @property
    def pid(self) -> int:
        return self.child.pid

    @property
    def state(self) -> WorkerState:
        """Booting until its first ready heartbeat; draining once asked to stop."""
        if self.stopping is not None:
            return WorkerState.DRAINING
        return self.heartbeat.state if self.last_hb_at is not None else WorkerState.BOOTING

    @property
    def active(self) -> bool:
        """Serving its slot: alive and not being stopped."""
        return self.stopping is None and self.child.alive

    def label(self) -> str:
        return f"worker {self.index} (pid {self.pid})"


@dataclass
class Slot:
    """One of the ``--workers`` places, kept across the processes that fill it."""

    policy: RestartPolicy = field(default_factory=RestartPolicy)
    restarts: int = 0
    last_exit: str | None = None
    respawn_at: float | None = 0.0


def limits(options: Options, rng: random.Random) -> tuple[int | None, float | None]:
    """A new worker's request and age limits, each with its own jitter."""
    requests = None
    if options.max_requests is not None:
        requests = options.max_requests + rng.randint(0, options.max_requests_jitter)
    age = None
    if options.max_worker_age is not None:
        age = options.max_worker_age + rng.uniform(0.0, options.max_worker_age_jitter)
    return requests, age


def recycle_reason(worker: WorkerHandle, now: float, options: Options) -> RestartReason | None:
    """Why a healthy worker should be replaced now, if it should. Updates memory strikes."""
    hb = worker.heartbeat
    consumer = hb.consumer
    if worker.request_limit is not None:
        # For a consumer worker, --max-lifetime counts the messages it has handled.
        messages = hb.counters.messages
        if consumer is None and hb.requests_total >= worker.request_limit:
            return RestartReason.MAX_REQUESTS
        if messages is not None and handled(messages) >= worker.request_limit:
            return RestartReason.MAX_MESSAGES
    if options.max_memory is not None and hb.rss_bytes:
        if hb.rss_bytes > options.max_memory * MiB:
            worker.memory_strikes += 1
        else:
            worker.memory_strikes = 0
        if worker.memory_strikes >= MEMORY_STRIKES:
            return RestartReason.MAX_MEMORY
    if worker.age_limit is not None and now - worker.spawned_at >= worker.age_limit:
        return RestartReason.MAX_AGE
    if options.request_timeout is not None and hb.oldest_request_s > options.request_timeout:
        return RestartReason.REQUEST_TIMEOUT
    timeout = options.handler_timeout
    if consumer is not None and timeout is not None and consumer.in_flight and consumer.oldest_s > timeout:
        return RestartReason.HANDLER_TIMEOUT
    return None


def handled(messages: MessageCounts) -> int:
    """Messages a consumer worker's handlers have finished with, whatever the outcome."""
    finished = (Outcome.ACKED, Outcome.REQUEUED, Outcome.REJECTED)
    return sum(messages.outcomes.get(outcome, 0) for outcome in finished)
