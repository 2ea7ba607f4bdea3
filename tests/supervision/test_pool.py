"""The real Supervisor and WorkerPool driven step by step, with stub workers instead of Django."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from supervisor import protocol
from supervisor.loop import Supervisor
from supervisor.options import resolve
from supervisor.protocol import Phase, RestartReason, WorkerState

pytestmark = pytest.mark.timeout(60)

STUB = [sys.executable, str(Path(__file__).with_name("stub_worker.py"))]
ROOT = str(Path(__file__).resolve().parents[2])


@contextmanager
def supervisor(mode: str, **options: str) -> Iterator[Supervisor]:
    cli = {"host": "127.0.0.1", "port": "0", "no_probe": True, "heartbeat_interval": "0.05"}
    cli.update(options)
    saved = dict(os.environ)
    os.environ["STUB_MODE"] = mode
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))
    sup = Supervisor(resolve(cli), STUB)
    sup.bind()
    sup.pool.respawn_due(sup.clock())
    try:
        yield sup
    finally:
        os.environ.clear()
        os.environ.update(saved)
        sup.cleanup()


def step_until(sup: Supervisor, predicate: Callable[[], object], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"condition not met; restarts={dict(sup.pool.restarts)}"
        sup.step(0.02)


def ready_pids(sup: Supervisor) -> list[int]:
    return [w.pid for w in sup.pool.workers if w.state is WorkerState.READY and w.active]


def test_a_worker_becomes_ready_and_startup_completes():
    with supervisor("ok") as sup:
        step_until(sup, lambda: sup.phase is Phase.RUNNING)
        assert sup.startup_done
        assert len(ready_pids(sup)) == 1


def test_boot_error_before_any_worker_was_ready_stops_the_server():
    with supervisor("boot_error") as sup:
        step_until(sup, lambda: sup.exit_code is not None)
        assert sup.exit_code == protocol.EXIT_CANNOT_START
        assert sup.pool.fatal == "ImportError: stub"


def test_crashing_worker_is_respawned_with_growing_delays():
    with supervisor("crash") as sup:
        step_until(sup, lambda: sup.pool.restarts["crash"] >= 3)
        slot = sup.pool.slots[0]
        assert slot.policy.crashes >= 3
        assert slot.respawn_at is not None and slot.respawn_at > sup.clock()
        assert "exited with code 1" in (slot.last_exit or "")


def test_silent_worker_is_declared_hung_and_replaced():
    with supervisor("silent", heartbeat_timeout="0.3") as sup:
        step_until(sup, lambda: ready_pids(sup))
        [first] = ready_pids(sup)
        step_until(sup, lambda: sup.pool.restarts["hang"] >= 1)
        step_until(sup, lambda: any(pid != first for pid in ready_pids(sup)))


def test_recycling_starts_the_replacement_before_retiring_the_old_worker():
    with supervisor("busy", max_requests="500") as sup:
        step_until(sup, lambda: ready_pids(sup))
        [old] = ready_pids(sup)
        step_until(sup, lambda: sup.pool.recycler.current is not None)
        old_worker = next(w for w in sup.pool.workers if w.pid == old)
        assert old_worker.stopping is None  # still serving while its replacement boots
        step_until(sup, lambda: old_worker.stopping is not None)
        assert old_worker.stopping.reason is RestartReason.MAX_REQUESTS
        new = [w for w in sup.pool.workers if w.pid != old]
        assert new and new[0].state is WorkerState.READY
        assert sup.pool.restarts["max-requests"] >= 1


def test_scale_up_and_down():
    with supervisor("ok") as sup:
        step_until(sup, lambda: len(ready_pids(sup)) == 1)
        sup.pool.scale_up()
        step_until(sup, lambda: len(ready_pids(sup)) == 2)
        sup.pool.scale_down()
        step_until(sup, lambda: len(sup.pool.workers) == 1)
        assert sup.pool.workers[0].index == 0


def test_consumer_workers_get_no_app_socket():
    cli = {"no_probe": True, "heartbeat_interval": "0.05", "handler": "a.b", "queue": "q", "amqp_host": "h"}
    saved = dict(os.environ)
    os.environ["STUB_MODE"] = "ok"
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))
    sup = Supervisor(resolve(cli, command="consume"), STUB, kind=protocol.WorkerKind.CONSUMER)
    try:
        sup.bind()
        assert sup.app_socket is None and sup.pool.app_fd == -1
        sup.pool.respawn_due(sup.clock())
        step_until(sup, lambda: sup.phase is Phase.RUNNING)
        [worker] = sup.pool.workers
        assert "--spec-fd" in worker.child.popen.args
    finally:
        os.environ.clear()
        os.environ.update(saved)
        sup.cleanup()
