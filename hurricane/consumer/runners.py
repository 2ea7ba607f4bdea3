"""Where handlers run: on threads (a plain handler, a TopicHandler) or as tasks on the loop
(an async handler), at most ``--concurrency`` at once.

A runner owns the messages waiting for a free handler until one takes them, so a
consumer that stops, or loses its connection, can take back those that never
started (``take_waiting``). Every result goes back to the event loop, in order.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hurricane.consumer.dispatch import Delivery

log = logging.getLogger("hurricane.consumer")

Done = Callable[["Delivery", "BaseException | None"], None]


class LoopBridge:
    """Calls from handler threads, run on the event loop in the order they were made.

    A busy thread posts many results between two turns of the loop: they share
    one wake-up instead of one each.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, after: Callable[[], None] = lambda: None) -> None:
        self.loop = loop
        self.after = after  # once a batch has run (the dispatcher sends its acks then)
        self.calls: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        self.lock = threading.Lock()
        self.scheduled = False
        self.running = False

    def post(self, function: Callable[..., Any], *args: Any) -> None:
        self.calls.append((function, args))
        with self.lock:
            if self.scheduled:
                return
            self.scheduled = True
        try:
            self.loop.call_soon_threadsafe(self.run)
        except RuntimeError:  # the loop is closed: the worker is exiting anyway
            pass

    def run(self) -> None:
        with self.lock:
            self.scheduled = False
        self.running = True
        try:
            while self.calls:
                function, args = self.calls.popleft()
                try:
                    function(*args)
                except Exception:
                    log.exception("consumer: %s failed", getattr(function, "__qualname__", function))
        finally:
            self.running = False
        self.after()


class ThreadRunner:
    """``concurrency`` threads take messages from one queue, run ``call`` and post the result."""

    def __init__(
        self, concurrency: int, call: Callable[[Delivery], None], done: Done, bridge: LoopBridge
    ) -> None:
        self.call = call
        self.done = done
        self.bridge = bridge
        self.queue: queue.SimpleQueue[Delivery | None] = queue.SimpleQueue()
        self.threads = [
            threading.Thread(target=self.work, name=f"hurricane-handler-{i}", daemon=True)
            for i in range(concurrency)
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def submit(self, delivery: Delivery) -> None:
        self.queue.put(delivery)

    def take_waiting(self) -> list[Delivery]:
        """The messages no thread has taken yet; whichever side gets one first owns it."""
        taken: list[Delivery] = []
        while True:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                return taken
            if item is not None:
                taken.append(item)

    def work(self) -> None:
        ident = threading.get_ident()
        while (delivery := self.queue.get()) is not None:
            delivery.thread = ident
            delivery.started_at = time.monotonic()
            error: BaseException | None = None
            try:
                self.call(delivery)
            except BaseException as exc:  # even SystemExit from a handler fails only its message
                error = exc
            delivery.finished_at = time.monotonic()
            self.bridge.post(self.done, delivery, error)

    def cancel_running(self) -> None:
        """Threads cannot be interrupted: a handler still running is left to the process exit."""

    def stop(self) -> None:
        for _ in self.threads:
            self.queue.put(None)


class TaskRunner:
    """Async handlers as tasks on the loop; ``timeout`` cancels one that runs too long."""

    def __init__(
        self, concurrency: int, call: Callable[[Delivery], Awaitable[None]], done: Done, timeout: float | None
    ) -> None:
        self.concurrency = concurrency
        self.call = call
        self.done = done
        self.timeout = timeout
        self.waiting: deque[Delivery] = deque()
        self.running: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        pass

    def submit(self, delivery: Delivery) -> None:
        if len(self.running) < self.concurrency:
            self.begin(delivery)
        else:
            self.waiting.append(delivery)

    def begin(self, delivery: Delivery) -> None:
        delivery.started_at = time.monotonic()
        task = asyncio.get_running_loop().create_task(self.run(delivery))
        self.running.add(task)
        task.add_done_callback(self.running.discard)

    async def run(self, delivery: Delivery) -> None:
        error: BaseException | None = None
        try:
            await asyncio.wait_for(self.call(delivery), self.timeout)
        except TimeoutError:
            error = TimeoutError(f"the handler ran longer than --handler-timeout {self.timeout:g}s")
        except asyncio.CancelledError:
            return  # the worker stopped before it finished: the broker requeues the message
        except BaseException as exc:  # even SystemExit from a handler fails only its message
            error = exc
        delivery.finished_at = time.monotonic()
        self.done(delivery, error)
        if self.waiting:  # this task is ending: its place goes to the next message
            self.begin(self.waiting.popleft())

    def take_waiting(self) -> list[Delivery]:
        taken = list(self.waiting)
        self.waiting.clear()
        return taken

    def cancel_running(self) -> None:
        for task in list(self.running):
            task.cancel()

    def stop(self) -> None:
        self.cancel_running()


Runner = ThreadRunner | TaskRunner
