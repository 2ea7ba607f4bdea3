"""Which routes run inline: learned from thread runs, undone by slow or waiting inline runs."""

import pytest

from hurricane.worker import inline
from hurricane.worker.inline import InlinePolicy

QUICK = (0.0005, 0.0006, 2)  # CPU s, wall s, busy threads: a quick view that computes
CONTENDED = (0.0005, 0.008, 16)  # the same view, sharing the GIL with 15 others
WAITING = (0.0002, 0.020, 2)  # a view that sleeps or waits on a socket
HEAVY = (0.050, 0.051, 2)  # computes, but too long to hold up the loop (the switch interval is 5 ms)


def promote(policy, key="GET /hello", runs=inline.QUALIFY):
    for _ in range(runs):
        policy.ran_on_thread(key, *QUICK)


def test_quick_cpu_bound_routes_go_inline_after_enough_of_them():
    policy = InlinePolicy()
    promote(policy, runs=inline.QUALIFY - 1)
    assert not policy.runs_inline("GET /hello")
    policy.ran_on_thread("GET /hello", *CONTENDED)  # its fair share of a busy GIL still counts
    assert policy.runs_inline("GET /hello")
    assert not policy.runs_inline("GET /other")


@pytest.mark.parametrize("run", [WAITING, HEAVY])
def test_waiting_or_heavy_runs_never_go_inline_and_count_against_the_route(run):
    policy = InlinePolicy()
    for _ in range(10 * inline.QUALIFY):
        policy.ran_on_thread("GET /x", *run)
    assert not policy.runs_inline("GET /x")
    for _ in range(10 * inline.QUALIFY):  # one run in two waits: not inline material
        policy.ran_on_thread("GET /x", *QUICK)
        policy.ran_on_thread("GET /x", *run)
    assert not policy.runs_inline("GET /x")


def test_an_occasional_outlier_does_not_keep_a_route_off_the_loop():
    policy = InlinePolicy()
    for _ in range(3 * inline.QUALIFY):
        if policy.runs_inline("GET /x"):
            break
        promote(policy, "GET /x", runs=4)
        policy.ran_on_thread("GET /x", *HEAVY)  # a garbage collection, say
    assert policy.runs_inline("GET /x")


def test_one_slow_inline_run_sends_the_route_back_and_it_must_qualify_longer(caplog):
    policy = InlinePolicy()
    promote(policy)
    policy.ran_inline("GET /hello", 0.001, 0.001)
    assert policy.runs_inline("GET /hello")
    with caplog.at_level("INFO", logger="hurricane.worker"):
        policy.ran_inline("GET /hello", 0.001, 0.150)
    assert not policy.runs_inline("GET /hello")
    assert "GET /hello runs on the view threads again: one run took 150 ms" in caplog.text
    promote(policy)
    assert not policy.runs_inline("GET /hello")  # 4 times the streak the second time
    promote(policy, runs=3 * inline.QUALIFY)
    assert policy.runs_inline("GET /hello")


def test_inline_runs_that_mostly_wait_send_the_route_back():
    policy = InlinePolicy()
    promote(policy)
    for _ in range(inline.INLINE_WINDOW - 1):
        policy.ran_inline("GET /hello", 0.001, 0.002)  # half its time waiting, each run quick
    assert policy.runs_inline("GET /hello")
    policy.ran_inline("GET /hello", 0.001, 0.002)
    assert not policy.runs_inline("GET /hello")


def test_inline_runs_that_compute_keep_the_route_inline():
    policy = InlinePolicy()
    promote(policy)
    for _ in range(5 * inline.INLINE_WINDOW):
        policy.ran_inline("GET /hello", 0.0009, 0.001)
    assert policy.runs_inline("GET /hello")


def test_a_route_sent_back_too_often_stays_on_the_threads(caplog):
    policy = InlinePolicy()
    with caplog.at_level("INFO", logger="hurricane.worker"):
        for returns in range(inline.MAX_RETURNS):
            promote(policy, runs=inline.QUALIFY << (2 * returns))
            assert policy.runs_inline("GET /hello")
            policy.ran_inline("GET /hello", 0.001, 1.0)
    assert "runs on the view threads again, for good" in caplog.text
    promote(policy, runs=100 * inline.QUALIFY)
    assert not policy.runs_inline("GET /hello")


def test_routes_remembered_are_bounded_least_recently_seen_first():
    policy = InlinePolicy()
    promote(policy, "GET /kept")
    for n in range(inline.MAX_ROUTES - 1):
        policy.ran_on_thread(f"GET /page/{n}", *QUICK)
    policy.ran_inline("GET /kept", 0.001, 0.001)  # seen again: the most recent
    policy.ran_on_thread("GET /one-more", *QUICK)
    assert len(policy.routes) == inline.MAX_ROUTES
    assert policy.runs_inline("GET /kept") and "GET /page/0" not in policy.routes
