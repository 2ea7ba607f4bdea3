"""The view thread pool: grows only as jobs queue, never past its size, drops queued jobs on shutdown."""

import threading

from hurricane.worker.view_pool import ViewPool


def test_threads_start_only_as_jobs_wait_and_never_beyond_the_size():
    pool = ViewPool(3)
    gate = threading.Event()
    done = threading.Semaphore(0)

    def job():
        gate.wait(10)
        done.release()

    pool.submit(job)
    assert len(pool.threads) == 1
    for _ in range(5):
        pool.submit(job)
    assert len(pool.threads) == 3
    gate.set()
    for _ in range(6):
        assert done.acquire(timeout=10)
    pool.shutdown()
    for thread in pool.threads:
        thread.join(10)
        assert not thread.is_alive()


def test_an_idle_thread_is_reused_instead_of_starting_another():
    pool = ViewPool(4)
    done = threading.Semaphore(0)
    for _ in range(5):
        pool.submit(done.release)
        assert done.acquire(timeout=10)
        # The thread goes back to waiting before it counts as idle.
        for _ in range(1000):
            if pool.idle:
                break
            threading.Event().wait(0.001)
    assert len(pool.threads) == 1
    pool.shutdown()


def test_shutdown_drops_jobs_that_have_not_started():
    pool = ViewPool(1)
    gate = threading.Event()
    ran = []
    pool.submit(lambda: gate.wait(10))
    pool.submit(lambda: ran.append(1))
    pool.shutdown()
    gate.set()
    pool.threads[0].join(10)
    assert ran == []
