"""--webhook-url against the real serve, with a local receiver."""

import os
import signal
import socket
import threading
import time

import pytest

from supervisor.protocol import EXIT_CANNOT_START
from tests.serving import alive, run, serve_env, serving, wait_until
from tests.webhook_receiver import receiving

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_startup_success_carries_status_time_host_and_version():
    with receiving() as hooks:
        env = serve_env(HURRICANE_VERSION="1.2.3")
        with serving("--webhook-url", hooks.url, env=env) as server:
            [hook] = wait_until(
                lambda: hooks.find(type="startup"), 30, "the startup webhook", lambda: server.output
            )
    assert hook["status"] == "succeeded"
    assert hook["version"] == "1.2.3"
    assert hook["hostname"] == hook["podname"] == socket.gethostname()
    assert abs(hook["timestamp"] - time.time()) < 60
    assert hook["_content_type"] == "application/json"


def test_readiness_changes_are_sent_both_ways():
    with (
        receiving() as hooks,
        serving("--webhook-url", hooks.url, "--threads", "1", "--req-queue-len", "1") as server,
    ):
        wait_until(lambda: hooks.find(type="startup"), 30, "the startup webhook", lambda: server.output)
        # One request runs on the only thread, the next waits: readiness fails until both are done.
        slow = [threading.Thread(target=server.get, args=("/sleep?s=1",)) for _ in range(2)]
        for thread in slow:
            thread.start()
        [failed] = wait_until(
            lambda: hooks.find(type="readiness", status="failed"),
            30,
            "readiness failed",
            lambda: server.output,
        )
        assert "requests queued" in failed["reason"]
        for thread in slow:
            thread.join(10)
        wait_until(
            lambda: hooks.find(type="readiness", status="succeeded"),
            30,
            "readiness back",
            lambda: server.output,
        )
        assert hooks.find(type="liveness") == []


def test_liveness_changes_are_sent_when_the_only_worker_hangs():
    with (
        receiving() as hooks,
        serving("--webhook-url", hooks.url, "--heartbeat-timeout", "1", "--liveness-grace", "0") as server,
    ):
        wait_until(lambda: hooks.find(type="startup"), 30, "the startup webhook", lambda: server.output)
        [pid] = server.worker_pids()
        os.kill(pid, signal.SIGSTOP)
        failed = wait_until(
            lambda: hooks.find(type="liveness", status="failed"), 30, "liveness failed", lambda: server.output
        )
        assert "no healthy worker" in failed[0]["reason"]
        wait_until(lambda: not alive(pid), 10, "the hung worker to be replaced")
        wait_until(
            lambda: hooks.find(type="liveness", status="succeeded"),
            30,
            "liveness back",
            lambda: server.output,
        )


def test_shutdown_sends_failing_readiness_before_exit():
    with receiving() as hooks, serving("--webhook-url", hooks.url) as server:
        wait_until(lambda: hooks.find(type="startup"), 30, "the startup webhook", lambda: server.output)
        server.signal(signal.SIGTERM)
        assert server.wait_exit(30) == 0
        [hook] = hooks.find(type="readiness", status="failed")
        assert hook["reason"] == "shutting down"


@pytest.mark.parametrize(
    ("args", "exit_code", "needle"),
    [
        (
            ["--settings", "broken_settings"],
            EXIT_CANNOT_START,
            "ModuleNotFoundError: No module named 'no_such_module'",
        ),
        (["--command", "no_such_command"], 1, "prestart exited with code 1"),
    ],
)
def test_startup_failure_is_sent_before_serve_exits(args, exit_code, needle):
    with receiving() as hooks:
        code, output = run("--port", "0", "--probe-port", "0", "--webhook-url", hooks.url, *args)
        assert code == exit_code, output
        [hook] = hooks.find(type="startup")
    assert hook["status"] == "failed"
    assert needle in hook["reason"]


def test_an_unreachable_receiver_is_logged_and_changes_nothing():
    url = f"http://127.0.0.1:{unused_port()}/hooks"
    with serving("--webhook-url", url) as server:
        server.wait_for_line(r"webhook startup/succeeded to 127\.0\.0\.1:\d+ failed: .*Connection refused")
        assert server.get("/hello")[0] == 200
        assert server.probe_ok("/alive")


def test_a_slow_receiver_delays_neither_startup_nor_probes():
    with receiving(delay=3.0) as hooks, serving("--webhook-url", hooks.url) as server:
        started = time.monotonic()
        # The receiver holds the startup webhook for 3 s; the probes answer meanwhile.
        for _ in range(20):
            began = time.monotonic()
            assert server.probe_ok("/ready")
            assert time.monotonic() - began < 0.5
        assert not hooks.received and time.monotonic() - started < 3.0
        wait_until(lambda: hooks.find(type="startup"), 30, "the late startup webhook", lambda: server.output)
