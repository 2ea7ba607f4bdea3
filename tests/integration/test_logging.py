"""The hurricane logger hierarchy of the real serve: defaults, JSON, Django LOGGING, LOG_PROBES."""

import json
import re
import signal

import pytest

from tests.serving import serve_env, serving, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def test_default_text_lines_and_no_probe_lines_without_log_probes():
    with serving() as server:
        server.get("/hello")
        server.probe("/ready")
        server.wait_for_line(r"INFO    hurricane\.access\[\d+\]: 127\.0\.0\.1 GET /hello 200 14B")
        server.signal(signal.SIGTERM)
        server.wait_exit()
    assert "hurricane.supervisor[" in server.output
    assert "hurricane.worker[" in server.output  # "worker 0 drained in ..."
    assert "hurricane.probe" not in server.output


def test_json_lines_from_supervisor_probe_and_worker():
    env = serve_env(HURRICANE_LOG_PROBES="1")
    with serving("--log-format", "json", env=env) as server:
        server.get("/hello")
        server.wait_for_line(r'"logger": "hurricane.access"')
        server.signal(signal.SIGTERM)
        server.wait_exit()
    entries = [json.loads(line) for line in server.output.splitlines() if line.strip()]
    loggers = {e["logger"] for e in entries}
    assert {"hurricane.supervisor", "hurricane.probe", "hurricane.worker", "hurricane.access"} <= loggers
    [access] = [e for e in entries if e["logger"] == "hurricane.access"]
    assert re.fullmatch(r"127\.0\.0\.1 GET /hello 200 14B \d+\.\dms", access["message"])
    assert access["level"] == "INFO" and access["status"] == 200
    assert any("GET /ready 200" in e["message"] for e in entries if e["logger"] == "hurricane.probe")
    assert len({e["pid"] for e in entries}) == 3


def test_django_logging_config_takes_the_worker_lines_and_log_probes_setting_works(tmp_path):
    logfile = tmp_path / "hurricane.log"
    env = serve_env(DJANGO_SETTINGS_MODULE="logging_settings", LOGGING_FILE=str(logfile))
    with serving(env=env) as server:
        server.get("/hello")
        wait_until(
            lambda: "custom|INFO|hurricane.access|127.0.0.1 GET /hello 200 14B" in logfile.read_text(),
            10,
            "the access line in the LOGGING file",
            lambda: server.output,
        )
        # The probe is Django-free: serve hands it LOG_PROBES through the options.
        server.wait_for_line(r"INFO    hurricane\.probe\[\d+\]: 127\.0\.0\.1 GET /ready 200")
    assert "GET /hello" not in server.output


def test_json_lines_from_the_prestart_commands_too():
    with serving("--log-format", "json", "--command", "check") as server:
        pass
    entries = [json.loads(line) for line in server.output.splitlines() if line.startswith("{")]
    [running] = [e for e in entries if e["message"] == "running command 'check'"]
    assert running["logger"].startswith("hurricane.") and running["level"] == "INFO"
    # The command's own output is not a log line: it stays as the command wrote it.
    assert "System check identified no issues" in server.output
