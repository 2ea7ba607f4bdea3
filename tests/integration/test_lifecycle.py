"""Drain, recycle, hang and crash handling under load: every request is accounted for."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import threading
import time

import pytest

from tests.load import Load
from tests.serving import Server, alive, serve_env, serving, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

LIFECYCLE = ("--settings", "lifecycle_settings")


def replacements(server: Server, reason: str) -> int:
    return len(re.findall(rf"replaced by pid \d+ \({reason}\)", server.output))


def ok_count_grows(load: Load, by: int, timeout: float, server: Server) -> None:
    start = load.tally.ok
    wait_until(lambda: load.tally.ok >= start + by, timeout, f"{by} more requests", lambda: server.output)


def test_sigterm_under_load_loses_no_request():
    with serving("--shutdown-delay", "2", "--threads", "8") as server:  # most requests wait in the queue
        with Load(server.app_port, "/sleep?s=0.2", connections=32) as load:
            ok_count_grows(load, 64, 30, server)
            server.signal(signal.SIGTERM)
            # Readiness fails at once, liveness holds, and the app keeps serving meanwhile.
            wait_until(lambda: server.probe("/ready")[0] == 503, 1.0, "readiness to fail at once")
            assert server.probe("/alive")[0] == 200
            ok_count_grows(load, 64, 2.0, server)
            assert server.wait_exit(30) == 0
            tally = load.stop()
    assert tally.failures == [], tally.failures[:5]
    assert tally.ok > 128
    assert "drained" in server.output


def test_keep_alive_clients_are_told_to_close_while_draining():
    with serving("--shutdown-delay", "0.5") as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.app_port, timeout=10)
        conn.request("GET", "/hello")
        first = conn.getresponse()
        first.read()
        assert first.getheader("Connection") != "close"
        result: dict[str, object] = {}

        def slow_request() -> None:
            conn.request("GET", "/sleep?s=2")
            response = conn.getresponse()
            result["status"], result["connection"], result["body"] = (
                response.status,
                response.getheader("Connection"),
                response.read(),
            )

        thread = threading.Thread(target=slow_request)
        thread.start()
        wait_until(
            lambda: server.probe("/alive")[1]["workers"][0]["in_flight"] == 1, 10, "the request in flight"
        )
        server.signal(signal.SIGTERM)
        thread.join(15)
        conn.close()
        assert server.wait_exit(30) == 0
    assert result == {"status": 200, "connection": "close", "body": b"slept 2.0s\n"}


def test_second_signal_stops_at_once():
    with serving("--shutdown-delay", "30") as server:
        server.signal(signal.SIGTERM)
        first = time.monotonic()
        wait_until(lambda: server.probe("/ready")[0] == 503, 5, "readiness to fail")
        # The same signal within a second is the same request arriving twice (see below).
        wait_until(lambda: time.monotonic() > first + 1.2, 5, "a second to pass")
        server.signal(signal.SIGTERM)
        assert server.wait_exit(5) == 1
    assert "second stop signal" in server.output


def test_max_requests_starts_the_replacement_at_the_limit_not_a_heartbeat_later():
    args = ("--max-requests", "3", "--heartbeat-interval", "5", "--heartbeat-timeout", "20")
    with serving(*args, "--check-interval", "0.5", fast=False) as server:
        [old] = server.worker_pids()
        for _ in range(3):
            assert server.get("/hello")[0] == 200
        asked = time.monotonic()
        server.wait_for_line(rf"recycling worker 0 \(pid {old}\): max-requests", timeout=10)
        assert time.monotonic() - asked < 2.0  # the heartbeat interval is 5 s
        wait_until(lambda: old not in server.worker_pids(), 30, "the replacement", lambda: server.output)


def test_max_requests_recycles_repeatedly_without_failing_a_request():
    with serving("--max-requests", "150", "--max-requests-jitter", "20") as server:
        with Load(server.app_port, "/sleep?s=0.005", connections=8, limit_s=90) as load:
            wait_until(
                lambda: replacements(server, "max-requests") >= 5, 90, "five recycles", lambda: server.output
            )
            tally = load.stop()
    assert tally.failures == [], tally.failures[:5]
    assert tally.refused == 0
    assert tally.ok >= 5 * 150


def test_sighup_replaces_every_worker_one_at_a_time_under_load():
    with serving("--workers", "2") as server:
        wait_until(lambda: len(server.worker_pids()) == 2, 30, "two workers", lambda: server.output)
        before = set(server.worker_pids())
        with Load(server.app_port, "/sleep?s=0.01", connections=8) as load:
            ok_count_grows(load, 50, 20, server)
            server.signal(signal.SIGHUP)
            wait_until(
                lambda: replacements(server, "reload") == 2,
                60,
                "both workers reloaded",
                lambda: server.output,
            )
            wait_until(lambda: len(server.worker_pids()) == 2, 30, "two ready workers")
            ok_count_grows(load, 50, 20, server)
            tally = load.stop()
        after = set(server.worker_pids())
    assert not before & after
    assert tally.failures == [] and tally.refused == 0
    # One at a time: the second replacement starts only after the first old worker retired.
    lines = [
        line for line in server.output.splitlines() if "recycling worker" in line or "replaced by" in line
    ]
    assert ["recycling" in line for line in lines] == [True, False, True, False], lines


def test_max_memory_recycles_a_worker_that_keeps_growing():
    with serving(*LIFECYCLE, "--max-memory", "150") as server:
        [old] = server.worker_pids()
        assert server.get("/hoard?mb=160")[0] == 200
        wait_until(
            lambda: replacements(server, "max-memory") == 1, 30, "a max-memory recycle", lambda: server.output
        )
        wait_until(lambda: not alive(old), 30, "the old worker to exit")
        assert server.get("/hello")[0] == 200


def test_max_worker_age_recycles():
    with serving("--max-worker-age", "1.5") as server:
        wait_until(
            lambda: replacements(server, "max-age") >= 2, 60, "two age recycles", lambda: server.output
        )
        server.wait_ready()


def test_worker_blocked_in_a_gil_holding_call_is_dumped_and_replaced():
    with serving(*LIFECYCLE, "--heartbeat-timeout", "1") as server:
        [old] = server.worker_pids()
        stuck = threading.Thread(target=lambda: _ignore_errors(server, "/hold-gil?s=60"), daemon=True)
        stuck.start()
        wait_until(
            lambda: [p for p in server.worker_pids() if p != old], 30, "a replacement", lambda: server.output
        )
        wait_until(lambda: not alive(old), 10, "the blocked worker to be killed")
        assert server.get("/hello")[0] == 200
        wait_until(lambda: "hold_gil" in server.output, 10, "the stack dump", lambda: server.output)
        killed = server.wait_for_line(rf"worker 0 \(pid {old}\) killed by SIGKILL").string
    assert "hung; dumping its stacks" in server.output
    assert "out of memory" not in killed  # the supervisor sent that SIGKILL itself


def test_request_timeout_replaces_the_worker_after_other_requests_finish():
    with serving("--request-timeout", "1", "--threads", "16") as server:
        [old] = server.worker_pids()
        stuck = threading.Thread(target=lambda: _ignore_errors(server, "/sleep?s=60"), daemon=True)
        stuck.start()
        with Load(server.app_port, "/sleep?s=0.3", connections=4) as load:
            wait_until(
                lambda: replacements(server, "request-timeout") == 1,
                30,
                "a replacement",
                lambda: server.output,
            )
            wait_until(lambda: not alive(old), 30, "the stuck worker to go")
            ok_count_grows(load, 8, 20, server)
            tally = load.stop()
    assert tally.failures == [], tally.failures[:5]
    assert re.search(r"GET /sleep\?s=60 running for \d+\.\ds exceeds --request-timeout", server.output)


def test_crash_loop_backs_off_and_liveness_fails_only_after_the_grace(tmp_path):
    marker = tmp_path / "crash"
    env = serve_env(LIFECYCLE_CRASH_FILE=str(marker))
    # The application's import crashes while the marker exists: every fresh worker dies while
    # booting (forked from a template that loaded before the marker, workers would not).
    with serving(*LIFECYCLE, "--liveness-grace", "3", "--no-preload", env=env) as server:
        [pid] = server.worker_pids()
        marker.touch()
        os.kill(pid, signal.SIGKILL)
        wait_until(
            lambda: "restarts in 1.0s (crash #3)" in server.output,
            30,
            "growing backoff",
            lambda: server.output,
        )
        assert server.probe("/ready")[0] == 503
        wait_until(lambda: server.probe("/alive")[0] == 503, 10, "liveness to fail after the grace")
        _, body = server.probe("/alive")
        assert body["reason"].startswith("no healthy worker for")
        marker.unlink()
        server.wait_ready(40)
        assert server.probe("/alive")[0] == 200


def test_sigttin_and_sigttou_add_and_remove_a_worker():
    with serving() as server, Load(server.app_port, "/sleep?s=0.01", connections=4) as load:
        server.signal(signal.SIGTTIN)
        wait_until(lambda: len(server.worker_pids()) == 2, 30, "a second worker", lambda: server.output)
        server.signal(signal.SIGTTOU)
        wait_until(lambda: len(server.probe("/alive")[1]["workers"]) == 1, 30, "back to one worker")
        ok_count_grows(load, 20, 20, server)
        tally = load.stop()
    assert tally.failures == [] and tally.refused == 0


@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0, reason="needs root and unshare")
def test_as_pid_1_it_reaps_orphans_and_stops_on_sigterm():
    prefix = ("unshare", "--pid", "--fork", "--kill-child")
    with serving(*LIFECYCLE, prefix=prefix) as server:
        [supervisor] = server.children()  # unshare's child: PID 1 in the new namespace
        assert server.get("/orphan")[0] == 200
        assert server.get("/orphan")[0] == 200

        def zombies() -> list[int]:
            from tests.serving import child_pids

            return [p for p in child_pids(supervisor) if _state(p) == "Z"]

        wait_until(lambda: not zombies(), 5, "orphans to be reaped")
        workers = server.worker_pids()
        assert workers
        os.kill(supervisor, signal.SIGTERM)
        assert server.wait_exit(30) == 0
    assert "all workers stopped" in server.output


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "?"


def _ignore_errors(server: Server, path: str) -> None:
    try:
        server.get(path, timeout=90)
    except OSError:
        pass


def test_readiness_stays_green_through_a_recycle_even_with_slow_checks(tmp_path):
    state = tmp_path / "checks.json"
    state.write_text('{"readiness": "hang", "hang_s": 1.0}')  # each readiness round takes 1s
    env = serve_env(CHECKAPP_STATE=str(state))
    # Heartbeats every 0.5s (stale after 1.5s): on a loaded machine the tests' usual 0.1s
    # (stale after 0.3s) can fail readiness for a late heartbeat, which is not this test's point.
    args = ("--settings", "check_settings", "--heartbeat-interval", "0.5")
    with serving(*args, env=env) as server:
        [old] = server.worker_pids()
        server.signal(signal.SIGHUP)
        seen: list[int] = []

        def replaced() -> bool:
            seen.append(server.probe("/ready")[0])
            return replacements(server, "reload") == 1 and not alive(old)

        wait_until(replaced, 30, "the reload to finish", lambda: server.output)
    assert set(seen) == {200}, seen


def test_a_worker_that_dies_during_the_shutdown_delay_is_replaced():
    with serving("--shutdown-delay", "5") as server:
        [old] = server.worker_pids()
        server.signal(signal.SIGTERM)
        wait_until(lambda: server.probe("/ready")[0] == 503, 5, "readiness to fail")
        os.kill(old, signal.SIGKILL)
        wait_until(
            lambda: [p for p in server.worker_pids() if p != old], 30, "a replacement", lambda: server.output
        )
        assert server.get("/hello")[0] == 200
        assert server.wait_exit(30) == 0


def test_an_invalid_response_head_is_a_500_and_leaves_nothing_in_flight():
    with serving(*LIFECYCLE, "--graceful-timeout", "10") as server:
        assert server.get("/bad-length")[0] == 500
        wait_until(lambda: server.probe("/alive")[1]["workers"][0]["in_flight"] == 0, 10, "nothing in flight")
        server.signal(signal.SIGTERM)
        assert server.wait_exit(8) == 0  # the drain does not wait for a lost request
    assert "invalid Content-Length" in server.output


def test_a_stop_signal_repeated_at_once_is_one_request_not_a_second_signal():
    """GNU timeout signals its child, then its whole process group: the supervisor hears twice."""
    with serving("--shutdown-delay", "0.5") as server:
        server.signal(signal.SIGTERM)
        server.signal(signal.SIGTERM)
        assert server.wait_exit(30) == 0
    assert "second stop signal" not in server.output


@pytest.mark.parametrize("kubernetes", [False, True], ids=["plain", "kubernetes"])
def test_sigterm_to_the_process_group_is_the_same_clean_shutdown(kubernetes):
    """`kill -TERM -- -PGID`: what dumb-init, honcho and a terminal's Ctrl-C do."""
    env = serve_env(**({"KUBERNETES_SERVICE_HOST": "10.0.0.1"} if kubernetes else {}))
    with serving(env=env) as server:
        workers = server.worker_pids()
        os.killpg(server.proc.pid, signal.SIGTERM)  # the session's group: serve started it
        if kubernetes:  # the shutdown delay: readiness fails while the same worker serves on
            wait_until(lambda: server.probe("/ready")[0] == 503, 5, "readiness to fail")
            assert server.get("/hello")[0] == 200
            assert server.worker_pids() == workers
        assert server.wait_exit(30) == 0
    after = server.output.split("received SIGTERM", 1)[1]
    assert " started" not in after and "restart" not in after
    assert " ERROR " not in server.output
    assert server.output.count("received SIGTERM") == 1
    if kubernetes:
        assert "serving for 5.0s more" in server.output


def test_children_signalled_with_the_supervisor_drain_and_are_not_replaced():
    """systemd's KillMode=control-group signals every process of the service at once."""
    with serving("--shutdown-delay", "2") as server:
        children = server.children()
        assert len(children) == 3  # the probe, the worker template and the worker
        for pid in [server.proc.pid, *children]:
            os.kill(pid, signal.SIGTERM)
        assert server.wait_exit(30) == 0
    after = server.output.split("received SIGTERM", 1)[1]
    assert " started" not in after
    assert " ERROR " not in server.output
    assert "not replaced" in after and after.count("not restarted") == 2  # the probe and the template


def test_a_stopped_supervisor_judges_nothing_by_the_time_it_did_not_look():
    """A paused VM or `kill -STOP` of the supervisor: its workers kept beating into their pipes."""
    with serving("--heartbeat-timeout", "1") as server:
        workers = server.worker_pids()
        with Load(server.app_port, "/hello", connections=4) as load:
            ok_count_grows(load, 50, 10, server)
            os.kill(server.proc.pid, signal.SIGSTOP)
            stopped = time.monotonic()
            try:
                # The probe notices its snapshots stop coming; the workers serve on meanwhile.
                wait_until(lambda: server.probe("/ready")[0] == 503, 5, "readiness to fail")
                ok_count_grows(load, 50, 10, server)
                wait_until(lambda: time.monotonic() > stopped + 4, 10, "four heartbeat timeouts")
            finally:
                os.kill(server.proc.pid, signal.SIGCONT)
            resumed = time.monotonic()
            wait_until(lambda: server.probe_ok("/ready"), 5, "readiness back", lambda: server.output)
            back_in = time.monotonic() - resumed
            ok_count_grows(load, 50, 10, server)
            tally = load.stop()
        assert server.worker_pids() == workers
    assert tally.failures == []
    assert back_in < 0.5  # a few heartbeat intervals (0.1 s here)
    assert "hung" not in server.output
    assert "stalled for" in server.output
