"""The process model end to end: the real manage.py serve, over HTTP and signals."""

import json
import re
import signal
import socket
import sys
from pathlib import Path

import pytest

from tests.serving import alive, cmdline, run, serve_env, serving, shadowing, start, stop, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def test_serve_becomes_the_supervisor_and_serves_app_and_probes():
    with serving() as server:
        # Same PID as manage.py, now running the Django-free supervisor.
        assert cmdline(server.proc.pid)[1:3] == ["-m", "supervisor"]
        assert server.get("/hello") == (200, b"Hello, world!\n")
        for path in ("/startup", "/ready", "/alive"):
            status, body = server.probe(path)
            assert status == 200, body
            assert body["status"] == "ok"
            assert body["workers"][0]["state"] == "ready"
        # The worker is forked from the template (with setproctitle its command line says so too).
        kinds = sorted(Path(f"/proc/{pid}/comm").read_text().strip() for pid in server.children())
        assert kinds == ["hurricane-probe", "hurricane-tmpl", "hurricane-w0"]


def test_no_secret_on_any_command_line_and_every_process_has_a_title():
    secret = "hook-token-4711"
    with serving("--webhook-url", f"http://127.0.0.1:9/{secret}") as server:
        pids = [server.proc.pid, *server.children()]
        assert all(secret not in " ".join(cmdline(pid)) for pid in pids)
        names = {Path(f"/proc/{pid}/comm").read_text().strip() for pid in pids}
        assert names == {"hurricane-sup", "hurricane-probe", "hurricane-tmpl", "hurricane-w0"}


def test_the_first_ready_answer_already_says_the_server_is_running():
    with serving(ready=False) as server:

        def ready_body():
            try:
                status, body = server.probe("/ready")
            except OSError:
                return None
            return body if status == 200 else None

        body = wait_until(ready_body, 30, "/ready to answer 200", lambda: server.output)
        assert body["phase"] == "running"


def test_the_probe_port_can_listen_on_another_address():
    env = serve_env()
    with serving("--probe-host", "127.0.0.2", env=env, ready=False) as server:
        assert re.search(rf"probes on 127\.0\.0\.2:{server.probe_port}", server.output)

        def ready() -> bool:
            return server.request("GET", "/ready", host="127.0.0.2", port=server.probe_port)[0] == 200

        wait_until(ready, 30, "/ready on 127.0.0.2", lambda: server.output)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", server.probe_port), timeout=5)
        assert server.get("/hello")[0] == 200


def test_probe_paths_are_configurable_and_unknown_paths_404():
    with serving(
        "--liveness-probe",
        "/livez",
        "--readiness-probe",
        "/readyz",
        "--startup-probe",
        "/startz",
        ready=False,
    ) as server:
        wait_until(lambda: server.probe_ok("/readyz"), 30, "/readyz", lambda: server.output)
        assert server.probe_ok("/livez") and server.probe_ok("/startz")
        assert server.request("GET", "/ready", port=server.probe_port)[0] == 404


def test_no_probe_starts_no_probe_server():
    server = start("--host", "127.0.0.1", "--port", "0", "--no-probe")
    try:
        match = server.wait_for_line(r"listening on [^:]+:(\d+), no probes")
        server.app_port = int(match.group(1))
        server.wait_for_line(r"worker 0 \(pid \d+\) ready")
        assert server.get("/hello")[0] == 200
        assert sorted(Path(f"/proc/{p}/comm").read_text().strip() for p in server.children()) == [
            "hurricane-tmpl",
            "hurricane-w0",
        ]
    finally:
        stop(server)


def test_several_workers_share_the_socket():
    with serving("--workers", "2") as server:
        wait_until(lambda: len(server.worker_pids()) == 2, 30, "two ready workers", lambda: server.output)
        seen = {int(server.get("/pid")[1]) for _ in range(60)}
        assert seen <= set(server.worker_pids())


def test_killed_worker_is_replaced_and_probes_recover():
    with serving() as server:
        [old] = server.worker_pids()
        signal_pid(old, signal.SIGKILL)
        new = wait_until(
            lambda: [p for p in server.worker_pids() if p != old], 30, "a new worker", lambda: server.output
        )
        server.wait_ready()
        assert new[0] != old and not alive(old)
        assert server.get("/hello")[0] == 200
        _, body = server.probe("/alive")
        assert body["workers"][0]["restarts"] == 1
        assert "killed by SIGKILL" in body["workers"][0]["last_exit"]
    # The cgroup's OOM count did not move: someone sent it, and the log says so.
    assert "killed by SIGKILL (not by Hurricane nor the out-of-memory killer" in server.output


def test_repeated_crashes_back_off():
    with serving() as server:
        killed: set[int] = set()
        for _ in range(3):
            [pid] = wait_until(
                lambda: [p for p in server.worker_pids() if p not in killed],
                30,
                "a new ready worker",
                lambda: server.output,
            )
            signal_pid(pid, signal.SIGKILL)
            killed.add(pid)
            wait_until(lambda p=pid: not alive(p), 10, "the worker to die")
        server.wait_for_line(r"worker 0 restarts in \d+\.\d+s \(crash #3\)")
        server.wait_ready()


def test_hung_worker_is_detected_dumped_and_replaced():
    with serving("--heartbeat-timeout", "1") as server:
        [old] = server.worker_pids()
        signal_pid(old, signal.SIGSTOP)
        wait_until(
            lambda: [p for p in server.worker_pids() if p != old], 30, "a replacement", lambda: server.output
        )
        assert "hung" in server.output
        wait_until(lambda: not alive(old), 10, "the hung worker to be killed")
        assert server.get("/hello")[0] == 200


def test_boot_failure_exits_non_zero_with_one_readable_line():
    code, output = run("--port", "0", "--probe-port", "0", "--settings", "broken_settings")
    assert code == 4, output  # EXIT_CANNOT_START: a restart cannot help
    [line] = [line for line in output.splitlines() if "cannot start" in line]
    assert "ModuleNotFoundError: No module named 'no_such_module'" in line
    assert "Traceback" not in output


def test_sigterm_stops_everything_and_exits_zero():
    with serving() as server:
        children = server.children()
        server.signal(signal.SIGTERM)
        assert server.wait_exit(30) == 0
        wait_until(lambda: not any(alive(p) for p in children), 5, "children to exit")
    assert "ERROR" not in server.output, server.output


def test_sigkilled_supervisor_leaves_no_process_behind():
    with serving("--workers", "2") as server:
        wait_until(lambda: len(server.worker_pids()) == 2, 30, "two workers", lambda: server.output)
        children = server.children()
        assert len(children) == 4  # the probe, the worker template, two workers
        server.signal(signal.SIGKILL)
        server.wait_exit(5)
        wait_until(lambda: not any(alive(p) for p in children), 2.0, "every child to exit within 2s")


def test_database_outage_fails_readiness_but_not_liveness(tmp_path):
    env = serve_env(EXAMPLE_DB=str(tmp_path / "missing-dir" / "db.sqlite3"))
    with serving(env=env, ready=False) as server:
        wait_until(lambda: server.probe_ok("/startup"), 30, "startup", lambda: server.output)

        def ready_reason():
            status, body = server.probe("/ready")
            return status == 503 and "database default" in body["reason"] and body

        wait_until(ready_reason, 30, "readiness to report the database")
        assert server.probe_ok("/alive")
        assert server.get("/hello")[0] == 200


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--port", "abc"], 'option --port: "abc" from the command line is not a port number'),
        (["--workers", "-1"], 'option --workers: "-1" from the command line must be at least 1'),
        (
            ["--port", "8123", "--probe-port", "8123"],
            "option --probe-port: 8123 from the options is the same as --port",
        ),
        (["--heartbeat-interval", "x"], 'option --heartbeat-interval: "x"'),
    ],
)
def test_bad_options_are_one_line_exit_2_and_start_nothing(args, needle):
    code, output = run(*args)
    assert code == 2
    [line] = output.strip().splitlines()
    assert line.startswith(f"CommandError: {needle}"), output


def test_bad_option_from_environment_names_the_variable():
    code, output = run(env=serve_env(HURRICANE_WORKERS="many"))
    assert code == 2
    assert 'option --workers: "many" from env HURRICANE_WORKERS is not a whole number' in output


def test_port_in_use_is_one_line_and_exit_2():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, output = run("--host", "127.0.0.1", "--port", str(port), "--probe-port", "0")
    assert code == 2, output
    [line] = output.strip().splitlines()
    assert f"option --port: {port} is already in use" in line


def test_a_foreign_supervisor_package_is_refused_in_one_line(tmp_path):
    env = shadowing(tmp_path, "supervisor", "# supervisord's package\n")
    fake = tmp_path / "supervisor"
    code, output = run(env=env)
    assert code == 2
    [line] = output.strip().splitlines()
    assert str(fake) in line and "supervisord" in line


def signal_pid(pid: int, sig: int) -> None:
    import os

    os.kill(pid, sig)


def test_supervisor_and_probe_import_neither_django_nor_hurricane():
    import subprocess

    code = (
        "import sys, supervisor.__main__, supervisor.probe.__main__, supervisor.probe.app;"
        "bad = sorted(m for m in sys.modules if m.partition('.')[0] in ('django', 'hurricane'));"
        "print(json.dumps(bad)) if bad else None; sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", "import json;" + code],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
        env=serve_env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout or "[]") == []
