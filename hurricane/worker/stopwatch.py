"""How a view run spent its time: computing, waiting on something, or only waiting for a CPU.

The placement (``placement.py``) moves a route off the shared threads only while
its runs compute, so it must not mistake a run that could not get a CPU for one
that waited. When other processes share the cores (a second worker, the load
generator, a neighbour, the hypervisor's other guests) a thread that is ready to
run often is not running, and its wall time grows while it computes nothing: with
two workers and wrk on two cores, inline runs of the example's SQLite view computed
for 40-75% of their wall time while the loop's thread blocked twice in five seconds,
and that sent the route back to the shared threads for good (2.9 ms of CPU per
request there, 1.1 ms inline).

The kernel tells the two apart per thread: a run that never switched out
voluntarily (``getrusage``'s ``ru_nvcsw``) waited on nothing, however long it
took; one that did waited for what its wall time leaves besides its CPU time and
its time in the run queue (``/proc/thread-self/schedstat``). Time stolen by the
hypervisor is in neither, so it counts as waiting only in runs that also blocked.
Where the kernel does not say (not Linux), all time off a CPU counts as waiting.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from dataclasses import dataclass


@dataclass(slots=True)
class Run:
    """One view run: its own CPU, the process's CPU, wall time, busy threads, time waited."""

    cpu: float
    process_cpu: float  # 0.0 for runs in place: only runs on the shared threads are judged by it
    wall: float
    sharing: int  # threads wanting the GIL meanwhile, the loop's included
    waited: float  # blocked on something other than a CPU: I/O, a lock, a sleep, the GIL

    @property
    def active(self) -> float:
        """Its wall time less the time it was only kept from a CPU."""
        return self.cpu + self.waited


class ThreadCounters:
    """The calling thread's voluntary context switches and run-queue time, as the kernel counts them."""

    def __init__(self) -> None:
        try:
            self.fd = os.open("/proc/thread-self/schedstat", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:  # not Linux, or a kernel built without schedstats
            self.fd = -1

    def __del__(self) -> None:  # its thread has ended
        if self.fd >= 0:
            os.close(self.fd)

    def switches(self) -> int | None:
        """Times the thread gave up its CPU to wait (None: unknown)."""
        return resource.getrusage(RUSAGE_THREAD).ru_nvcsw if RUSAGE_THREAD is not None else None

    def schedstat(self) -> bytes:
        """The thread's schedstat line, read afresh (b"": unknown); ``queued()`` reads it."""
        if self.fd < 0:
            return b""
        try:
            return os.pread(self.fd, 64, 0)
        except OSError:
            return b""

    def queued(self) -> float:
        """Seconds the thread has spent ready to run but waiting for a CPU (0.0: unknown)."""
        return queued(self.schedstat())


def queued(schedstat: bytes) -> float:
    """The run-queue time in a schedstat line: "<ns on a CPU> <ns in a run queue> <timeslices>"."""
    try:
        return int(schedstat.split()[1]) / 1e9
    except (IndexError, ValueError):
        return 0.0


RUSAGE_THREAD: int | None = getattr(resource, "RUSAGE_THREAD", None)
_local = threading.local()


def counters() -> ThreadCounters:
    """The calling thread's own (its schedstat file stays open while the thread lives)."""
    mine: ThreadCounters | None = getattr(_local, "counters", None)
    if mine is None:
        mine = _local.counters = ThreadCounters()
    return mine


@dataclass(slots=True)
class Stopwatch:
    """The clocks a Run is measured with, read when a view starts, on the thread that runs it."""

    wall: float
    cpu: float
    process_cpu: float | None  # None: not read (the Run says 0.0)
    switches: int | None
    schedstat: bytes  # parsed only if the run blocks: most runs of a view that computes do not

    @classmethod
    def start(cls, process: bool = True) -> Stopwatch:
        """``process``: read the process's CPU too (only runs on the shared threads are judged by it)."""
        mine = counters()
        process_cpu = time.process_time() if process else None
        return cls(time.perf_counter(), time.thread_time(), process_cpu, mine.switches(), mine.schedstat())

    def stop(self, sharing: int = 1) -> Run:
        cpu = time.thread_time() - self.cpu
        process_cpu = 0.0 if self.process_cpu is None else time.process_time() - self.process_cpu
        wall = time.perf_counter() - self.wall
        mine = counters()
        switches = mine.switches()
        if switches is not None and switches == self.switches:
            waited = 0.0  # it never blocked: whatever else it took, it spent kept from a CPU
        else:
            waited = max(0.0, wall - cpu - (mine.queued() - queued(self.schedstat)))
        return Run(cpu, process_cpu, wall, sharing, waited)
