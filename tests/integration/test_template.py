"""Workers forked from a template that loaded the application once."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

import pytest

from tests.serving import cmdline, serving, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def template_pids(server) -> list[int]:
    return [p for p in server.children() if comm(p) == "hurricane-tmpl"]


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:  # it exited meanwhile
        return ""


def template_pid(server) -> int:
    [pid] = template_pids(server)
    return pid


def ready_pids(server) -> set[int]:
    return set(server.worker_pids())


def test_a_killed_worker_is_replaced_by_a_fork_of_the_same_template():
    with serving() as server:
        template = template_pid(server)
        [old] = server.worker_pids()
        assert cmdline(old)[2] == "hurricane.template"  # a fork, not a new interpreter
        os.kill(old, signal.SIGKILL)
        [new] = wait_until(lambda: [p for p in server.worker_pids() if p != old], 10, "a replacement")
        server.wait_ready()
        assert server.get("/hello")[0] == 200
        assert template_pid(server) == template  # the same template forked it
        assert new in server.children()  # and it is the supervisor's child, like every worker
        assert cmdline(new)[2] == "hurricane.template"


def test_a_dead_template_is_replaced_while_the_workers_serve_on():
    with serving("--workers", "2") as server:
        wait_until(lambda: len(ready_pids(server)) == 2, 30, "two workers")
        workers = ready_pids(server)
        old = template_pid(server)
        os.kill(old, signal.SIGKILL)
        server.wait_for_line(r"worker template killed by SIGKILL.*the workers serve on")
        assert server.get("/hello")[0] == 200
        new = wait_until(
            lambda: (p := template_pid_or_none(server)) not in (None, old) and p, 30, "a new template"
        )
        server.wait_for_line(rf"worker template \(pid {new}\) ready")
        assert ready_pids(server) == workers  # untouched
        # The next worker comes from the new template.
        victim = sorted(workers)[0]
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: len(ready_pids(server) - workers) == 1, 30, "a replacement", lambda: server.output)


def template_pid_or_none(server) -> int | None:
    try:
        return template_pid(server)
    except ValueError:
        return None


def test_sighup_loads_the_code_anew_in_a_new_template_then_replaces_the_workers():
    with serving("--workers", "2") as server:
        wait_until(lambda: len(ready_pids(server)) == 2, 30, "two workers")
        workers, old = ready_pids(server), template_pid(server)
        server.signal(signal.SIGHUP)
        wait_until(
            lambda: not (ready_pids(server) & workers) and len(ready_pids(server)) == 2, 60, "new workers"
        )
        # The old template stops once its workers are replaced: one template, the new one.
        wait_until(
            lambda: len(template_pids(server)) == 1 and old not in template_pids(server), 10, "one template"
        )
    # The new template was ready before the first worker was recycled onto it.
    output = server.output
    second_ready = list(re.finditer(r"worker template \(pid \d+\) ready", output))[1]
    assert second_ready.start() < output.index("recycling worker")


def test_import_time_threads_connections_and_random_state_do_not_cross_the_fork():
    with serving("--settings", "forksafe_settings", "--workers", "2") as server:
        wait_until(lambda: len(ready_pids(server)) == 2, 30, "two workers")
        seen: dict[int, dict[str, object]] = {}

        def both_workers() -> bool:
            body = json.loads(server.get("/fork-state")[1])
            seen[body["pid"]] = body
            return len(seen) == 2

        wait_until(both_workers, 30, "answers from both workers")
    first, second = seen.values()
    assert first["random"] != second["random"]  # reseeded in each worker at the fork
    assert first["notes"] == second["notes"]  # each worker has its own database connection
    assert not first["thread_alive"] and not second["thread_alive"]  # threads do not cross a fork
    assert "the application started 1 thread(s) while loading (import-time-poller)" in server.output
    assert "the application opened 2 socket(s) while loading: every worker shares them" in server.output
    assert "--no-preload" in server.output


def test_no_preload_starts_every_worker_as_a_fresh_interpreter():
    with serving("--no-preload") as server:
        [worker] = server.worker_pids()
        assert cmdline(worker)[2] == "hurricane.worker"
        assert template_pids(server) == []
        assert server.get("/hello")[0] == 200
