"""The messages that cross process boundaries, and the words they are made of.

Children send the supervisor one JSON object per line on their own pipe
(heartbeats, a boot error, a reload request, a prestart stage); the supervisor
sends the probe a health snapshot per line. Every message is a frozen
dataclass here; ``wire.py`` turns it into JSON and back, and ``pipes.py`` frames
the lines. docs/architecture.md describes the protocol as a whole.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from supervisor.wire import WireError, from_wire, to_wire

log = logging.getLogger("hurricane.supervisor")

VERSION = 1
MAX_LINE = 4096  # PIPE_BUF on Linux: writes up to this size are atomic.

# Reserved exit codes. 3 is Django's autoreloader's "restart me".
EXIT_USAGE = 2
EXIT_BOOT_ERROR = 4  # a worker could not load the application: restarting cannot help
EXIT_PARENT_GONE = 5  # the supervisor died; the child leaves with it
# The supervisor's own exit code when the application cannot load at all (its
# workers exit with EXIT_BOOT_ERROR before any was ready): a restart cannot help.
EXIT_CANNOT_START = EXIT_BOOT_ERROR


class Phase(StrEnum):
    """The whole server's phase, as the supervisor drives it."""

    STARTING = "starting"
    RUNNING = "running"
    DRAINING = "draining"  # readiness fails, the app still serves (--shutdown-delay)
    STOPPING = "stopping"  # the workers drain and exit

    @property
    def shutting_down(self) -> bool:
        return self in (Phase.DRAINING, Phase.STOPPING)


class WorkerKind(StrEnum):
    """What a server's workers do: serve HTTP on the app socket, or consume from a broker."""

    HTTP = "http"
    CONSUMER = "consumer"


class WorkerState(StrEnum):
    BOOTING = "booting"
    READY = "ready"
    DRAINING = "draining"


class RestartReason(StrEnum):
    """Why a worker was replaced or stopped: the log, /metrics and the snapshot use these."""

    CRASH = "crash"
    HANG = "hang"
    STARTUP_TIMEOUT = "startup-timeout"
    BOOT_ERROR = "boot-error"
    MAX_REQUESTS = "max-requests"
    MAX_MEMORY = "max-memory"
    MAX_AGE = "max-age"
    REQUEST_TIMEOUT = "request-timeout"
    MAX_MESSAGES = "max-messages"  # a consumer worker's --max-lifetime
    HANDLER_TIMEOUT = "handler-timeout"
    RELOAD = "reload"
    CODE_CHANGE = "code-change"
    SCALE_DOWN = "scale-down"
    SHUTDOWN = "shutdown"


class PrestartStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class MessageType(StrEnum):
    HEARTBEAT = "heartbeat"
    BOOT_ERROR = "boot_error"
    RELOAD = "reload"
    PRESTART_STAGE = "prestart"
    SNAPSHOT = "snapshot"
    TEMPLATE_READY = "template_ready"
    FORK_WORKER = "fork_worker"
    WORKER_FORKED = "worker_forked"


# -- what a worker reports ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckError:
    id: str
    level: str  # ERROR or CRITICAL
    msg: str
    hint: str | None = None  # only from a worker with DEBUG = True: hints may name internals


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The latest run of one tag's checks in one worker."""

    ok: bool
    errors: tuple[CheckError, ...] = ()
    took_ms: float | None = None
    age_s: float | None = None


@dataclass(frozen=True, slots=True)
class DbResult:
    """The latest round-trip to one database alias."""

    ok: bool
    msg: str = ""
    took_ms: float | None = None


@dataclass(frozen=True, slots=True)
class RunningRequest:
    """The request a worker has been running longest."""

    method: str
    path: str
    age_s: float


@dataclass(frozen=True, slots=True)
class Latency:
    """Cumulative latency buckets (see counters.LATENCY_BUCKETS; the last counts all) and the sum."""

    buckets: tuple[int, ...] = ()
    sum_s: float = 0.0


class Outcome(StrEnum):
    """What became of a message a consumer worker received."""

    ACKED = "acked"  # its handler returned (or a redelivery of one that had: see docs)
    REQUEUED = "requeued"  # its handler failed on the first delivery: the broker delivers it again
    REJECTED = "rejected"  # it failed again on redelivery: rejected, to the dead-letter exchange if any
    RETURNED = "returned"  # never started: given back to the queue when the consumer stopped
    INTERRUPTED = "interrupted"  # the connection closed before it was settled: the broker requeues it


@dataclass(frozen=True, slots=True)
class MessageCounts:
    """A consumer worker's cumulative counts: messages by Outcome, handler durations, reconnects."""

    outcomes: dict[str, int] = field(default_factory=dict)
    duration: Latency = Latency()  # buckets: counters.HANDLER_BUCKETS
    reconnects: int = 0


@dataclass(frozen=True, slots=True)
class Counters:
    """What a worker has done since it started, reported as running totals: responses by
    method and status class (``{"GET": {"2xx": 120}}``) and their latency; WebSocket
    messages by direction (``in``, ``out``), closes by code, upgrades refused by reason;
    a consumer worker's messages."""

    responses: dict[str, dict[str, int]] = field(default_factory=dict)
    latency: Latency = Latency()
    websocket_messages: dict[str, int] = field(default_factory=dict)
    websocket_closes: dict[str, int] = field(default_factory=dict)
    websocket_refused: dict[str, int] = field(default_factory=dict)
    messages: MessageCounts | None = None


class BrokerLink(StrEnum):
    """A consumer worker's connection to its broker."""

    CONNECTING = "connecting"  # the first attempt is under way
    CONNECTED = "connected"  # connection and channel open
    DISCONNECTED = "disconnected"  # lost or refused: the next attempt waits its backoff
    CLOSED = "closed"  # closed on purpose: the worker is stopping


@dataclass(frozen=True, slots=True)
class ConsumerState:
    """What a consumer worker adds to its heartbeat: its broker connection and its messages."""

    link: BrokerLink = BrokerLink.CONNECTING
    registered: bool = False  # the broker confirmed the consumer (basic.consume-ok)
    error: str = ""  # why the link is not up, or the last reason it went down
    in_flight: int = 0  # handlers running
    prefetched: int = 0  # delivered, waiting for a free handler
    oldest_s: float = 0.0  # how long the longest-running handler has run
    since_message_s: float | None = None  # since the last delivery; None before the first


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A worker's state, sent from its event loop every --heartbeat-interval."""

    pid: int = 0
    worker: int = 0
    state: WorkerState = WorkerState.BOOTING
    loop_lag_ms: float = 0.0
    in_flight: int = 0
    queued: int = 0  # requests waiting for a view thread
    connections: int = 0  # open client connections
    websockets: int = 0  # open WebSocket sessions
    threads: int = 0
    requests_total: int = 0
    oldest_request: RunningRequest | None = None
    rss_bytes: int | None = None
    checks: dict[str, CheckResult] = field(default_factory=dict)  # by tag
    db: dict[str, DbResult] = field(default_factory=dict)  # by alias
    debugger: bool = False  # a debugger is attached: a paused loop is not a hang
    routes: dict[str, int] = field(default_factory=dict)  # routes placed inline or serial
    counters: Counters = Counters()
    unmeasured: dict[str, str] = field(default_factory=dict)  # what could not be measured, and why
    consumer: ConsumerState | None = None  # only from a consumer worker
    type: MessageType = MessageType.HEARTBEAT

    @property
    def oldest_request_s(self) -> float:
        return 0.0 if self.oldest_request is None else self.oldest_request.age_s


@dataclass(frozen=True, slots=True)
class BootError:
    """A worker could not load the application; it exits with EXIT_BOOT_ERROR next."""

    error: str
    pid: int = 0
    type: MessageType = MessageType.BOOT_ERROR


@dataclass(frozen=True, slots=True)
class ReloadRequest:
    """--autoreload: worker 0 saw ``path`` change."""

    path: str
    pid: int = 0
    type: MessageType = MessageType.RELOAD


@dataclass(frozen=True, slots=True)
class PrestartStage:
    """What the prestart child is doing now, for /startup's reason."""

    stage: str
    type: MessageType = MessageType.PRESTART_STAGE


@dataclass(frozen=True, slots=True)
class TemplateReady:
    """The worker template loaded the application: it can fork workers now."""

    pid: int = 0
    type: MessageType = MessageType.TEMPLATE_READY


@dataclass(frozen=True, slots=True)
class ForkWorker:
    """Supervisor to template: fork worker ``index`` (its heartbeat pipe comes with it)."""

    index: int
    request_limit: int | None = None
    type: MessageType = MessageType.FORK_WORKER


@dataclass(frozen=True, slots=True)
class WorkerForked:
    """Template to supervisor: the worker's pid (it is the supervisor's child from now on)."""

    index: int
    pid: int
    type: MessageType = MessageType.WORKER_FORKED


ChildMessage = Heartbeat | BootError | ReloadRequest | PrestartStage | TemplateReady | WorkerForked


# -- what the supervisor tells the probe ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkerReport:
    """One worker process as the supervisor sees it, with its latest heartbeat."""

    worker: int
    pid: int
    state: WorkerState = WorkerState.BOOTING
    hb_age_s: float = 0.0  # since its last heartbeat (or its start, before the first)
    restarts: int = 0  # of its slot
    last_exit: str | None = None  # how its slot's previous process ended
    retiring: RestartReason | None = None  # why it is being stopped
    recycle: RestartReason | None = None  # why it is due for replacement
    heartbeat: Heartbeat = Heartbeat()


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the probes answer from; the supervisor sends one at every step."""

    phase: Phase = Phase.STARTING
    prestart: PrestartStatus = PrestartStatus.DONE
    prestart_stage: str = ""
    startup_done: bool = False
    startup_s: float | None = None
    uptime_s: float = 0.0
    since_healthy_s: float = 0.0  # since some worker last counted as healthy
    restarts: dict[str, int] = field(default_factory=dict)  # by RestartReason
    workers: tuple[WorkerReport, ...] = ()
    retired: Counters = Counters()  # the counts of workers that have exited
    versions: dict[str, str] = field(default_factory=dict)  # Hurricane's, Django's, Python's
    type: MessageType = MessageType.SNAPSHOT


MESSAGES: dict[str, type[ChildMessage]] = {
    MessageType.HEARTBEAT: Heartbeat,
    MessageType.BOOT_ERROR: BootError,
    MessageType.RELOAD: ReloadRequest,
    MessageType.PRESTART_STAGE: PrestartStage,
    MessageType.TEMPLATE_READY: TemplateReady,
    MessageType.WORKER_FORKED: WorkerForked,
}


class LineTooLong(ValueError):
    """An encoded message does not fit in one atomic pipe write."""


def encode(msg: ChildMessage | Snapshot | ForkWorker, limit: int = MAX_LINE) -> bytes:
    """One message as a protocol line; raise LineTooLong past ``limit``."""
    line = json.dumps({"v": VERSION, **to_wire(msg)}, separators=(",", ":")).encode() + b"\n"
    if len(line) > limit:
        raise LineTooLong(f"message of {len(line)} bytes exceeds {limit}")
    return line


def decode_child(data: dict[str, Any], source: str) -> ChildMessage | None:
    """A child's message from its JSON object; None (logged) if it is not one we know."""
    kind = MESSAGES.get(str(data.get("type", "")))
    if kind is None:
        log.warning("%s: skipping a message of unknown type %.40r", source, data.get("type"))
        return None
    return _decode(kind, data, source)


def decode_snapshot(data: dict[str, Any], source: str) -> Snapshot | None:
    return _decode(Snapshot, data, source)


def decode_fork(data: dict[str, Any], source: str) -> ForkWorker | None:
    return _decode(ForkWorker, data, source)


M = TypeVar("M")


def _decode(kind: type[M], data: dict[str, Any], source: str) -> M | None:
    try:
        return from_wire(kind, data)
    except WireError as exc:
        log.warning("%s: skipping a malformed message: %s", source, exc)
        return None
