"""A view run's time: computing, waiting on something, or only kept from a CPU."""

import sys
import threading
import time

import pytest

from hurricane.worker import stopwatch
from hurricane.worker.stopwatch import Stopwatch

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's per-thread counters")


def compute(seconds):
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


@pytest.mark.timeout(10)
def test_a_run_that_sleeps_waited_about_as_long():
    watch = Stopwatch.start()
    time.sleep(0.02)
    run = watch.stop()
    assert run.waited >= 0.015
    assert run.active == pytest.approx(run.cpu + run.waited)


@linux
@pytest.mark.timeout(10)
def test_a_run_that_only_computes_waited_for_nothing():
    def measure():
        watch = Stopwatch.start()
        compute(0.01)
        return watch.stop(sharing=3)

    # Another thread of the test process wanting the GIL would make a run block: one of a few.
    runs = [measure() for _ in range(5)]
    assert any(run.waited == 0.0 for run in runs), runs
    assert all(run.cpu >= 0.01 and run.sharing == 3 for run in runs)


@linux
@pytest.mark.timeout(10)
def test_each_thread_reads_its_own_counters():
    seen = []
    thread = threading.Thread(target=lambda: seen.append(stopwatch.counters()))
    thread.start()
    thread.join(5)
    assert seen and seen[0] is not stopwatch.counters()
    if sys.platform.startswith("linux"):  # the kernel's schedstat line: "<ns on a CPU> <ns queued> <slices>"
        assert len(stopwatch.counters().schedstat().split()) == 3


@pytest.mark.timeout(10)
def test_without_the_kernels_counters_all_time_off_a_cpu_is_waiting(monkeypatch):
    monkeypatch.setattr(stopwatch, "RUSAGE_THREAD", None)

    def refuse(*args):
        raise FileNotFoundError(args[0])

    monkeypatch.setattr(stopwatch.os, "open", refuse)
    counters = stopwatch.ThreadCounters()
    monkeypatch.setattr(stopwatch, "counters", lambda: counters)
    assert counters.queued() == 0.0 and counters.switches() is None
    watch = Stopwatch.start()
    compute(0.005)
    run = watch.stop()
    assert run.waited == pytest.approx(run.wall - run.cpu, abs=1e-6)
