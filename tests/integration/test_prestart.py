"""--command and the migration checks: run once, before any worker, gating /startup."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.serving import EXAMPLE, run, serve_env, serving, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

SLEEP = "shell -c 'import time; time.sleep(1.5)'"


def kinds(server) -> list[str]:
    return sorted(Path(f"/proc/{pid}/comm").read_text().strip() for pid in server.children())


def startup_reason(server) -> str:
    try:
        status, body = server.probe("/startup")
    except OSError:
        return ""
    return "" if status == 200 else body["reason"]


def test_commands_run_in_order_before_any_worker_while_startup_fails():
    with serving("--command", "check", "--command", SLEEP, ready=False) as server:
        reason = wait_until(
            lambda: startup_reason(server).startswith("prestart") and startup_reason(server),
            30,
            "/startup to fail with the prestart reason",
            lambda: server.output,
        )
        assert reason.startswith("prestart commands running"), reason
        assert "hurricane-w0" not in kinds(server)
        server.wait_ready()
        output = server.output
        assert (
            output.index("running command 'check'")
            < output.index("System check identified no issues")
            < output.index(f"command {SLEEP!r} finished")
            < output.index("prestart finished")
            < output.index("worker 0 (pid")
        ), output
        assert server.get("/hello")[0] == 200
        # Once: the prestart child is gone and does not come back.
        assert kinds(server) == ["hurricane-probe", "hurricane-tmpl", "hurricane-w0"]


@pytest.mark.parametrize(
    ("command", "needle"),
    [
        ("no_such_command", "command 'no_such_command' failed: Unknown command: 'no_such_command'"),
        ("shell -c \"print('about to fail'); raise SystemExit(3)\"", "failed: it exited with 3"),
    ],
)
def test_a_failing_command_stops_serve_with_its_output_in_the_log(command, needle):
    code, output = run("--port", "0", "--probe-port", "0", "--command", command, "--command", "check")
    assert code == 1, output
    assert needle in output
    if "about to fail" in command:
        assert "about to fail\n" in output
    assert "running command 'check'" not in output  # the next command never ran
    assert "worker 0 (pid" not in output
    assert "prestart exited with code 1" in output


def fresh_db(tmp_path) -> dict[str, str]:
    return serve_env(EXAMPLE_DB=str(tmp_path / "fresh.sqlite3"))


def test_pending_migrations_hold_startup_until_they_are_applied(tmp_path):
    env = fresh_db(tmp_path)
    with serving("--check-migrations", env=env, ready=False) as server:
        reason = wait_until(
            lambda: "pending migration" in startup_reason(server) and startup_reason(server),
            30,
            "startup to report pending migrations",
            lambda: server.output,
        )
        assert reason == "prestart commands running: waiting for 3 pending migration(s)"
        assert "hurricane-w0" not in kinds(server)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
            cwd=EXAMPLE,
            env=env,
            check=True,
            timeout=60,
        )
        wait_until(lambda: server.probe_ok("/startup"), 30, "startup after migrating", lambda: server.output)
        assert server.get("/notes")[0] == 200


def test_check_migrations_apply_migrates_then_starts(tmp_path):
    with serving("--check-migrations-apply", env=fresh_db(tmp_path)) as server:
        assert server.get("/notes") == (200, b'{"count": 0, "latest": []}')
        assert "Applying notes.0001_initial... OK" in server.output


def test_an_unreachable_database_holds_startup(tmp_path):
    env = serve_env(EXAMPLE_DB=str(tmp_path / "missing-dir" / "db.sqlite3"))
    with serving("--check-migrations", env=env, ready=False) as server:
        reason = wait_until(
            lambda: "database" in startup_reason(server) and startup_reason(server),
            30,
            "startup to report the database",
            lambda: server.output,
        )
        assert reason.startswith("prestart commands running: waiting for the database (OperationalError")
        (tmp_path / "missing-dir").mkdir()
        # The database is reachable now, but empty: migrations are pending.
        wait_until(
            lambda: "pending migration" in startup_reason(server), 30, "the next poll", lambda: server.output
        )


def test_commands_from_the_environment(tmp_path):
    env = serve_env(HURRICANE_COMMAND='["check", "showmigrations notes"]')
    with serving(env=env) as server:
        assert server.output.index("running command 'check'") < server.output.index(
            "running command 'showmigrations notes'"
        )
