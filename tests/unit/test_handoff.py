"""A busy worker that shares the socket gives a keep-alive connection back now and then."""

import pytest

from hurricane.worker import handoff
from hurricane.worker.dispatch import RequestDispatcher
from hurricane.worker.handoff import Handoff
from hurricane.worker.stats import RequestStats
from hurricane.worker.view_pool import ViewPool
from supervisor.options import Options

pytestmark = pytest.mark.timeout(10)


class Clocks:
    def __init__(self):
        self.now = 100.0
        self.busy = 7.0
        self.waiting = 0

    def advance(self, seconds, busy_part):
        self.now += seconds
        self.busy += seconds * busy_part

    def handoff(self):
        return Handoff(lambda: self.waiting, 0.2, lambda: self.now, lambda: self.busy)


def test_a_worker_busy_all_along_gives_each_connection_back_once_per_turnover():
    clocks = Clocks()
    policy = clocks.handoff()
    clocks.advance(0.05, 1.0)
    assert not policy.due(2)  # not yet an interval
    clocks.advance(0.06, 1.0)
    assert policy.due(2)
    assert not policy.due(2)  # one per interval
    clocks.advance(0.11, handoff.BUSY + 0.05)
    assert policy.due(2)


def test_an_idle_moment_keeps_its_connections_unless_requests_wait_for_a_thread():
    clocks = Clocks()
    policy = clocks.handoff()
    clocks.advance(0.2, 0.5)
    assert not policy.due(2)
    clocks.advance(0.2, 0.0)
    clocks.waiting = 3
    assert policy.due(2)


def test_more_connections_go_back_sooner():
    clocks = Clocks()
    policy = clocks.handoff()
    clocks.advance(0.06, 1.0)
    assert not policy.due(2)  # one in 0.1 s
    assert policy.due(4)  # one in 0.05 s


def test_a_worker_with_one_connection_keeps_it():
    clocks = Clocks()
    policy = clocks.handoff()
    clocks.advance(1.0, 1.0)
    assert not policy.due(1)
    assert policy.due(2)


def test_only_workers_that_share_the_socket_hand_connections_off():
    def dispatcher(workers):
        options = Options(workers=workers)
        return RequestDispatcher(lambda environ, start: [], ViewPool(1), RequestStats(), options, 8000)

    assert dispatcher(1).handoff is None
    assert dispatcher(2).handoff is not None


def test_busy_time_counts_what_the_process_computes():
    before = handoff.busy_time()
    total = sum(i * i for i in range(200_000))
    assert total and handoff.busy_time() > before
