"""The consumer worker's event loop: consume, beat, and drain on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import time

from hurricane.checks import CheckRunner
from hurricane.consumer.dispatch import Dispatcher
from hurricane.consumer.handlers import Handler, PlainHandler
from hurricane.consumer.session import Consumer
from hurricane.consumer.stats import ConsumerStats
from hurricane.worker.heartbeat import HeartbeatSender
from supervisor import child
from supervisor.child import ParentPipe
from supervisor.options import Options
from supervisor.protocol import WorkerState

log = logging.getLogger("hurricane.consumer")


class ConsumerWorker:
    def __init__(
        self, handler: Handler, options: Options, index: int, parent: ParentPipe, parent_pid: int
    ) -> None:
        self.handler = handler
        self.options = options
        self.index = index
        self.parent_pid = parent_pid
        self.stats = ConsumerStats()
        self.checks = CheckRunner(options.check_interval, options.check_timeout)
        threads = 0 if handler.is_async else options.concurrency
        self.heartbeat = HeartbeatSender(
            parent, index, options.heartbeat_interval, threads, None, self.checks, consumer=self.stats
        )
        self.dispatcher: Dispatcher | None = None
        self.consumer: Consumer | None = None
        self.overdue_timer: asyncio.TimerHandle | None = None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stopping.set)
        self.heartbeat.start()
        self.heartbeat.beat()  # alive and booting

        def checks_done() -> None:  # fresh check results reach the probes at once
            loop.call_soon_threadsafe(self.heartbeat.send_now)

        self.checks.on_round = checks_done
        self.checks.start()
        opts = self.options
        if isinstance(self.handler, PlainHandler):
            self.handler.loop = loop  # where an awaitable a plain handler returns is run
        self.dispatcher = Dispatcher(self.handler, opts.concurrency, opts.handler_timeout, self.stats, loop)
        self.dispatcher.start()
        self.consumer = Consumer(
            self.handler, opts, self.index, self.stats, self.dispatcher, self.heartbeat.send_now
        )
        self.consumer.start()
        # Ready means running: whether it receives messages is the broker link's part of
        # the heartbeat, which readiness reads (and liveness does not).
        self.heartbeat.state = WorkerState.READY
        self.heartbeat.beat()
        watch = asyncio.ensure_future(child.watch_parent(self.parent_pid))
        if opts.handler_timeout and not self.handler.is_async:  # async ones are cancelled instead
            self.watch_handlers()
        await stopping.wait()
        watch.cancel()
        if self.overdue_timer is not None:
            self.overdue_timer.cancel()
        await self.drain()

    def watch_handlers(self) -> None:
        """Every heartbeat interval, log the handler threads that run past --handler-timeout."""
        assert self.dispatcher is not None and self.options.handler_timeout is not None
        self.dispatcher.log_overdue(self.options.handler_timeout)
        loop = asyncio.get_running_loop()
        self.overdue_timer = loop.call_later(self.options.heartbeat_interval, self.watch_handlers)

    async def drain(self) -> None:
        """Stop receiving, finish what runs, give back the rest, close the connection."""
        started = time.monotonic()
        self.heartbeat.state = WorkerState.DRAINING
        self.heartbeat.beat()
        assert self.consumer is not None
        await self.consumer.stop(self.options.graceful_timeout)
        self.heartbeat.stop()
        self.heartbeat.beat()  # the final counts, which the supervisor adds to its totals
        log.info(
            "consumer worker %d drained in %.2fs, %d messages handled",
            self.index,
            time.monotonic() - started,
            self.stats.handled,
        )
