"""Where routes run: learned from their runs on the shared threads, undone by runs that misbehave."""

import pytest

from hurricane.worker import placement
from hurricane.worker.placement import Place, RoutePlacement
from hurricane.worker.stopwatch import Run


def run(cpu, wall, sharing=2, process_cpu=None, waited=None):
    """A run on a thread; unless told otherwise, all its time off a CPU was spent waiting."""
    waited = wall - cpu if waited is None else waited
    return Run(cpu, cpu if process_cpu is None else process_cpu, wall, sharing, waited)


def alone(cpu, wall, waited=None):
    """A run inline or in its lane."""
    return run(cpu, wall, sharing=1, waited=waited)


QUICK = run(cpu=0.0005, wall=0.0006, process_cpu=0.0006)  # computes, briefly
CONTENDED = run(cpu=0.0005, wall=0.008, sharing=16, process_cpu=0.008)  # the same among 15 others
WAITING = run(cpu=0.0002, wall=0.020, process_cpu=0.0003)  # sleeps or waits on a socket
HEAVY_ALONE = run(cpu=0.050, wall=0.051, process_cpu=0.051)
TAKING_TURNS = run(cpu=0.050, wall=0.100, sharing=3, process_cpu=0.100)  # two at once, one core
PARALLEL = run(cpu=0.050, wall=0.051, sharing=3, process_cpu=0.100)  # two at once, two cores


def feed(policy, run, times, key="GET /x"):
    for _ in range(times):
        policy.ran_on_threads(key, run)


def test_routes_start_on_the_threads():
    assert RoutePlacement().place("GET /x") is Place.THREADS


def test_quick_cpu_bound_routes_go_inline_after_enough_runs(caplog):
    policy = RoutePlacement()
    feed(policy, QUICK, placement.QUALIFY - 1)
    assert policy.place("GET /x") is Place.THREADS
    with caplog.at_level("INFO", logger="hurricane.worker"):
        feed(policy, CONTENDED, 1)  # its fair share of a busy GIL counts as computing
    assert policy.place("GET /x") is Place.INLINE
    assert "GET /x runs inline on the event loop now" in caplog.text
    assert policy.place("GET /other") is Place.THREADS


@pytest.mark.parametrize("run", [WAITING, HEAVY_ALONE, PARALLEL])
def test_waiting_lone_heavy_and_parallel_runs_stay_on_the_threads(run):
    policy = RoutePlacement()
    feed(policy, run, 10 * placement.QUALIFY)
    assert policy.place("GET /x") is Place.THREADS


def test_one_waiting_run_in_two_keeps_a_route_off_the_loop():
    policy = RoutePlacement()
    for _ in range(10 * placement.QUALIFY):
        feed(policy, QUICK, 1)
        feed(policy, WAITING, 1)
    assert policy.place("GET /x") is Place.THREADS


def test_an_occasional_outlier_does_not():
    policy = RoutePlacement()
    for _ in range(3 * placement.QUALIFY):
        feed(policy, QUICK, 4)
        feed(policy, HEAVY_ALONE, 1)  # a garbage collection, say
    assert policy.place("GET /x") is Place.INLINE


def test_heavy_views_taking_turns_with_the_gil_run_one_at_a_time(caplog):
    policy = RoutePlacement()
    feed(policy, TAKING_TURNS, placement.QUALIFY_SERIAL - 1)
    feed(policy, HEAVY_ALONE, 5)  # alone, a run says nothing either way
    assert policy.place("GET /x") is Place.THREADS
    with caplog.at_level("INFO", logger="hurricane.worker"):
        feed(policy, TAKING_TURNS, 1)
    assert policy.place("GET /x") is Place.SERIAL
    assert "GET /x runs one request at a time on a thread of its own now" in caplog.text
    feed(policy, QUICK, placement.QUALIFY, key="GET /y")
    assert policy.counts() == {"inline": 1, "serial": 1}


def test_one_slow_inline_run_sends_the_route_back_and_it_must_qualify_longer(caplog):
    policy = RoutePlacement()
    feed(policy, QUICK, placement.QUALIFY)
    policy.ran_in_place("GET /x", alone(0.001, 0.001))
    assert policy.place("GET /x") is Place.INLINE
    with caplog.at_level("INFO", logger="hurricane.worker"):
        policy.ran_in_place("GET /x", alone(0.001, 0.150))
    assert policy.place("GET /x") is Place.THREADS
    assert "GET /x runs on the view threads again: one run took 150 ms" in caplog.text
    feed(policy, QUICK, placement.QUALIFY)
    assert policy.place("GET /x") is Place.THREADS  # four times as many runs the second time
    feed(policy, QUICK, 3 * placement.QUALIFY)
    assert policy.place("GET /x") is Place.INLINE


@pytest.mark.parametrize(("run", "place"), [(QUICK, Place.INLINE), (TAKING_TURNS, Place.SERIAL)])
def test_runs_in_place_that_mostly_wait_send_the_route_back(run, place):
    policy = RoutePlacement()
    feed(policy, run, placement.QUALIFY)
    assert policy.place("GET /x") is place
    for _ in range(5 * placement.WINDOW):
        policy.ran_in_place("GET /x", alone(0.0135, 0.015))  # computing: it stays
    assert policy.place("GET /x") is place
    for _ in range(placement.WINDOW - 1):  # 16 of these last past WINDOW_WALL
        policy.ran_in_place("GET /x", alone(0.0075, 0.015))  # half of each run waiting
    assert policy.place("GET /x") is place
    policy.ran_in_place("GET /x", alone(0.0075, 0.015))
    assert policy.place("GET /x") is Place.THREADS


def test_a_preempted_run_among_quick_ones_does_not_count_as_waiting():
    policy = RoutePlacement()
    feed(policy, QUICK, placement.QUALIFY)
    for n in range(2000):  # 0.4 ms runs; one in a hundred descheduled for a 4 ms tick
        policy.ran_in_place("GET /x", alone(0.0004, 0.0044 if n % 100 == 0 else 0.0004))
    assert policy.place("GET /x") is Place.INLINE


def test_time_kept_from_a_cpu_is_not_waiting():
    # Two workers and the load generator on two cores: runs that never block are on a
    # CPU for a fraction of their wall time, and now and then far longer than SLOW_INLINE.
    policy = RoutePlacement()
    feed(policy, run(cpu=0.001, wall=0.004, sharing=1, waited=0.0), placement.QUALIFY)
    assert policy.place("GET /x") is Place.INLINE
    for n in range(2000):
        policy.ran_in_place("GET /x", alone(0.001, 0.050 if n % 50 == 0 else 0.003, waited=0.0))
    assert policy.place("GET /x") is Place.INLINE
    policy.ran_in_place("GET /x", alone(0.001, 0.003, waited=0.030))  # but a run that waited
    assert policy.place("GET /x") is Place.THREADS


def test_heavy_runs_in_their_lane_are_not_slow_inline_runs():
    policy = RoutePlacement()
    feed(policy, TAKING_TURNS, placement.QUALIFY_SERIAL)
    policy.ran_in_place("GET /x", alone(0.5, 0.5))
    assert policy.place("GET /x") is Place.SERIAL


def test_a_route_sent_back_too_often_stays_on_the_threads(caplog):
    policy = RoutePlacement()
    with caplog.at_level("INFO", logger="hurricane.worker"):
        for returns in range(placement.MAX_RETURNS):
            feed(policy, QUICK, placement.QUALIFY << (2 * returns))
            assert policy.place("GET /x") is Place.INLINE
            policy.ran_in_place("GET /x", alone(0.001, 1.0))
    assert "runs on the view threads again, for good" in caplog.text
    feed(policy, QUICK, 100 * placement.QUALIFY)
    assert policy.place("GET /x") is Place.THREADS


def test_routes_remembered_are_bounded_least_recently_seen_first():
    policy = RoutePlacement()
    feed(policy, QUICK, placement.QUALIFY, key="GET /kept")
    for n in range(placement.MAX_ROUTES - 1):
        policy.ran_on_threads(f"GET /page/{n}", QUICK)
    policy.ran_in_place("GET /kept", alone(0.001, 0.001))  # seen again: the most recent
    policy.ran_on_threads("GET /one-more", QUICK)
    assert len(policy.routes) == placement.MAX_ROUTES
    assert policy.place("GET /kept") is Place.INLINE and "GET /page/0" not in policy.routes
