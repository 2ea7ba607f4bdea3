"""The threads that run views: started on demand up to a limit, fed from one queue.

Leaner than ``concurrent.futures.ThreadPoolExecutor`` on the per-request path (no
Future and no semaphore per submit): a request's thread reports back to the
event loop itself. Daemon threads, so a view stuck forever cannot hold the worker's
exit hostage.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger("hurricane.worker")

Job = Callable[[], None]


class ViewPool:
    def __init__(self, size: int, name: str = "hurricane-view", after_job: Job = lambda: None) -> None:
        self.size = size
        self.name = name
        self.after_job = after_job  # on the thread, after each job (the connection budget)
        self.jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self.threads: list[threading.Thread] = []
        self.idle = 0  # threads waiting for a job; submit() reads it without the lock, as a hint
        self._lock = threading.Lock()

    def submit(self, job: Job) -> None:
        self.jobs.put(job)
        if self.jobs.qsize() > self.idle and len(self.threads) < self.size:
            thread = threading.Thread(target=self.run, name=f"{self.name}-{len(self.threads)}", daemon=True)
            self.threads.append(thread)
            thread.start()

    def run(self) -> None:
        while True:
            with self._lock:
                self.idle += 1
            job = self.jobs.get()
            with self._lock:
                self.idle -= 1
            if job is None:
                return
            try:
                job()
                self.after_job()
            except BaseException:  # a job reports its own errors; this is a last resort
                log.exception("a view thread's job failed")

    def busy(self) -> int:
        """Threads running a job just now (a hint: read without the lock)."""
        return len(self.threads) - self.idle

    def shutdown(self) -> None:
        """Drop the jobs not started yet and let every thread end after its current one."""
        while True:
            try:
                self.jobs.get_nowait()
            except queue.Empty:
                break
        for _ in self.threads:
            self.jobs.put(None)
