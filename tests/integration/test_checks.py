"""Custom Django checks tagged liveness/readiness/startup decide the probes (tests/checkapp)."""

import json
import re

import pytest

from tests.serving import serve_env, serving, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@pytest.fixture
def steer(tmp_path):
    """Write checkapp's state file; returns (env for serve, setter)."""
    path = tmp_path / "checks.json"
    path.write_text("{}")
    env = serve_env(DJANGO_SETTINGS_MODULE="check_settings", CHECKAPP_STATE=str(path))
    return env, lambda **modes: path.write_text(json.dumps(modes))


def runs(env, tag):
    """How many times checkapp's check for ``tag`` has run, in every worker."""
    try:
        with open(env["CHECKAPP_STATE"] + ".runs") as f:
            return f.read().split().count(tag)
    except FileNotFoundError:
        return 0


def probe_until(server, path, status, needle=""):
    def matches():
        code, body = server.probe(path)
        return code == status and needle in json.dumps(body) and body

    return wait_until(matches, 20, f"{path} to answer {status} with {needle!r}", lambda: server.output)


def test_readiness_error_fails_ready_with_its_message_then_recovers(steer):
    env, set_modes = steer
    with serving(env=env) as server:
        [pid] = server.worker_pids()
        set_modes(readiness="error")
        body = probe_until(server, "/ready", 503, "checkapp.E002: readiness is error")
        [worker] = body["workers"]
        assert worker["checks"]["readiness"]["errors"][0]["msg"] == "readiness is error"
        assert "hint" not in worker["checks"]["readiness"]["errors"][0]  # not DEBUG
        assert server.probe_ok("/alive")
        set_modes(readiness="warning")  # warnings never fail a probe
        probe_until(server, "/ready", 200)
        assert server.worker_pids() == [pid]


def test_hints_appear_only_with_debug(steer):
    env, set_modes = steer
    set_modes(liveness="critical")
    with serving(env={**env, "EXAMPLE_DEBUG": "1"}, ready=False) as server:
        body = probe_until(server, "/alive", 503, "liveness is critical")
        [error] = body["workers"][0]["checks"]["liveness"]["errors"]
        assert error == {
            "id": "checkapp.E001",
            "level": "CRITICAL",
            "msg": "liveness is critical",
            "hint": "internal detail of liveness",
        }


def test_a_check_that_raises_fails_its_probe_and_never_the_worker(steer):
    env, set_modes = steer
    with serving(env=env) as server:
        [pid] = server.worker_pids()
        set_modes(liveness="raise")
        body = probe_until(server, "/alive", 503, "checkapp.checks.liveness raised RuntimeError")
        assert "secret" not in json.dumps(body)  # the exception's text only with DEBUG
        assert server.get("/hello")[0] == 200
        assert server.probe_ok("/ready")
        raising_since = runs(env, "liveness")
        wait_until(
            lambda: runs(env, "liveness") >= raising_since + 3, 20, "3 more rounds", lambda: server.output
        )
        set_modes()
        probe_until(server, "/alive", 200)
        assert server.worker_pids() == [pid]
        # The traceback and the failure are logged once, not every round; so is the recovery.
        assert server.output.count("Traceback (most recent call last)") == 1, server.output
        # The one line names the project's file and line where the check raised.
        assert re.search(
            r"liveness check checkapp\.checks\.liveness raised RuntimeError: secret liveness internals "
            r"at \S*checkapp/checks\.py:\d+ in verdict\n",
            server.output,
        )
        assert (
            server.output.count("liveness checks failing: hurricane.E001: checkapp.checks.liveness raised")
            == 1
        )
        server.wait_for_line(r"hurricane\.worker\[\d+\]: liveness checks ok again")


def test_a_check_past_the_timeout_fails_and_the_worker_keeps_serving(steer):
    env, set_modes = steer
    with serving("--check-timeout", "0.5", env=env) as server:
        [pid] = server.worker_pids()
        set_modes(readiness="hang", hang_s=3)
        probe_until(server, "/ready", 503, "readiness check checkapp.checks.readiness timed out after 0.5s")
        assert server.get("/hello")[0] == 200
        assert server.probe_ok("/alive")
        set_modes()
        probe_until(server, "/ready", 200)  # once the hung run ends, the next one passes
        assert server.worker_pids() == [pid]


def test_startup_check_holds_startup_until_it_passes(steer):
    env, set_modes = steer
    set_modes(startup="error")
    with serving(env=env, ready=False) as server:
        probe_until(server, "/startup", 503, "startup check checkapp.E003: startup is error")
        assert not server.probe_ok("/ready")
        set_modes()
        probe_until(server, "/startup", 200)
        server.wait_ready()
