"""Small parts, each on its own: the supervisor's clock, data rates, titles, the template's
channel, the reaper's unclaimed exits, the connection budget and inline middleware hooks."""

import asyncio
import logging
import os
import threading
import time

import pytest

from supervisor import channel, protocol
from supervisor.clock import STALL_AFTER, WatchClock
from supervisor.process import Reaper
from supervisor.titles import short_name


def test_the_watch_clock_skips_a_stall_and_only_a_stall():
    now = [100.0]
    clock = WatchClock(lambda: now[0])
    now[0] += 0.25  # a step that waited its whole timeout
    assert clock.lap(0.25) is None and clock() == 100.25
    now[0] += 0.25 + STALL_AFTER + 24.0  # stopped for 25 s
    stalled = clock.lap(0.25)
    assert stalled is not None and stalled == pytest.approx(25.0)
    assert clock() == pytest.approx(100.5)  # deadlines never saw the stall
    now[0] += 0.1
    assert clock.lap(0.25) is None and clock() == pytest.approx(100.6)


def test_the_minimum_rate_allows_a_grace_then_wants_its_bytes():
    from hurricane.worker.rates import MinimumRate

    rate = MinimumRate(240, 5.0)
    assert rate.deadline(0.0, 0) == 5.0  # nothing yet: the grace
    assert rate.deadline(0.0, 2400) == 10.0  # 2,400 bytes buy ten seconds
    assert not rate.too_slow(0.0, 1000, 4.0)
    assert rate.too_slow(0.0, 10, 5.5)  # a byte a second
    assert MinimumRate(0, 5.0).deadline(0.0, 0) is None


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("hurricane worker 12", "hurricane-w12"),
        ("hurricane supervisor :8000", "hurricane-sup"),
        ("hurricane probe :8001", "hurricane-probe"),
        ("hurricane template", "hurricane-tmpl"),
    ],
)
def test_titles_shrink_to_the_kernels_fifteen_characters(title, name):
    assert short_name(title) == name and len(name) <= 15


def test_the_template_channel_carries_messages_and_descriptors():
    ours, theirs = channel.pair()
    read_end, write_end = os.pipe()
    try:
        channel.send(ours, protocol.ForkWorker(3, 1000), [write_end])
        message, fds = channel.receive(theirs)
        assert protocol.decode_fork(message, "test") == protocol.ForkWorker(3, 1000)
        [passed] = fds
        os.write(passed, b"through the socket")  # the same pipe, another descriptor
        os.close(passed)
        assert os.read(read_end, 100) == b"through the socket"
        ours.close()
        assert channel.receive(theirs) == (None, [])
    finally:
        for fd in (read_end, write_end):
            os.close(fd)
        theirs.close()


def test_a_child_that_exits_before_it_is_watched_is_reported_when_it_is():
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    reaper = Reaper()
    deadline = time.monotonic() + 10
    while pid not in reaper.unclaimed:
        assert time.monotonic() < deadline
        reaper.reap()
        time.sleep(0.01)  # pacing the poll of a process we just forked
    heard = []
    reaper.watch(pid, heard.append)
    assert len(heard) == 1 and os.waitstatus_to_exitcode(heard[0]) == 7


def test_the_connection_budget_lets_only_so_many_threads_keep_a_connection():
    from hurricane.worker.db_connections import ConnectionBudget

    class Connection:
        def __init__(self):
            self.connection = object()

        def close(self):
            self.connection = None

    budget = ConnectionBudget(2)
    kept = []

    def request(done: threading.Event) -> None:
        mine = [Connection()]
        from unittest import mock

        with mock.patch("django.db.connections.all", lambda initialized_only=False: mine):
            budget.after_request()
        kept.append(mine[0].connection is not None)
        done.wait(10)

    done = threading.Event()
    threads = [threading.Thread(target=request, args=(done,)) for _ in range(5)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while len(kept) < 5:
        assert time.monotonic() < deadline
        time.sleep(0.01)  # pacing: the five threads report in their own time
    done.set()
    for thread in threads:
        thread.join(10)
    assert sorted(kept) == [False, False, False, True, True]


def test_a_middleware_hook_runs_inline_until_it_proves_slow(caplog):
    from hurricane.worker.async_middleware import InlineHooks

    hooks = InlineHooks(slow=0.01)
    threads = []

    def hook(pause: float) -> str:
        threads.append(threading.current_thread().name)
        time.sleep(pause)
        return "done"

    async def run() -> None:
        wrapped = hooks.wrap(hook)
        assert await wrapped(0.0) == "done"
        assert await wrapped(0.05) == "done"  # slow: from now on on a thread
        assert await wrapped(0.0) == "done"

    with caplog.at_level(logging.INFO, "hurricane.worker"):
        asyncio.run(run())
    assert threads[0] == threads[1] == threading.main_thread().name
    assert threads[2] != threading.main_thread().name
    assert "runs on a thread from now on" in caplog.text
