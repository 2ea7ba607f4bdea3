"""What an operator sees: errors with their cause, application errors in the log, versions,
help, the access log, stack dumps on demand."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys

import pytest

from tests.serving import EXAMPLE, run, serve_env, serving, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def manage(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "manage.py", *args]
    return subprocess.run(
        command, check=False, cwd=EXAMPLE, env=serve_env(), capture_output=True, text=True, timeout=60
    )


def test_a_boot_failure_names_the_project_file_and_the_traceback_is_a_flag_away():
    code, output = run("--port", "0", "--probe-port", "0", "--settings", "payment_settings")
    assert code == 4, output
    [line] = [line for line in output.splitlines() if "cannot start" in line]
    assert re.search(r"KeyError: 'PAYMENT_API_KEY' at \S*tests/payment_urls\.py:5 in <module>", line), line
    assert "--log-level DEBUG shows the traceback" in line
    assert "Traceback" not in output
    code, output = run(
        "--port", "0", "--probe-port", "0", "--settings", "payment_settings", "--log-level", "DEBUG"
    )
    assert code == 4
    assert "Traceback (most recent call last)" in output and 'os.environ["PAYMENT_API_KEY"]' in output


def test_a_failing_command_is_one_line_with_its_cause():
    code, output = run(
        "--port", "0", "--probe-port", "0", "--command", "shell -c 'import json; json.loads(\"{\")'"
    )
    assert code == 1, output
    [line] = [line for line in output.splitlines() if "failed:" in line]
    assert line.endswith(
        "failed: JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
        " (--log-level DEBUG shows the traceback)"
    )
    assert "Traceback" not in output


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_an_application_error_reaches_the_log_with_its_traceback(fmt):
    with serving("--log-format", fmt) as server:
        assert server.get("/cpu?n=abc")[0] == 500
        server.wait_for_line("Internal Server Error: /cpu")
        server.signal(signal.SIGTERM)
        server.wait_exit()
    if fmt == "text":
        assert re.search(r"ERROR   django\.request\[\d+\]: Internal Server Error: /cpu\n", server.output)
        assert "ValueError: invalid literal for int() with base 10: 'abc'" in server.output
        return
    lines = [line for line in server.output.splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # no loose traceback lines in between
    [error] = [e for e in entries if e["logger"] == "django.request"]
    assert error["level"] == "ERROR" and error["message"] == "Internal Server Error: /cpu"
    assert "ValueError: invalid literal for int()" in error["exc"]


def test_versions_in_version_the_start_up_line_the_probes_and_metrics():
    result = manage("serve", "--version")
    assert re.fullmatch(
        r"Hurricane \d+\.\d+\.\d+ \(Django \d+\.\d+(\.\d+)?\S*, Python 3\.\d+\.\d+\)\n", result.stdout
    )
    with serving() as server:
        assert re.search(
            r"INFO    hurricane\.supervisor\[\d+\]: Hurricane \S+ \(Django \S+, Python \S+\) listening on",
            server.output,
        )
        _, body = server.probe("/ready")
        assert set(body["version"]) == {"hurricane", "django", "python"}
        _, _, metrics = server.request("GET", "/metrics", port=server.probe_port)
        assert re.search(rb'hurricane_info\{django="[^"]+",python="[^"]+",version="[^"]+"\} 1\.0', metrics)


def test_help_is_grouped_with_defaults_in_units_and_an_unknown_option_is_one_line():
    help_text = manage("serve", "--help").stdout
    for group in ("Serving:", "Probes:", "Before the workers start:", "Worker lifecycle:", "Development:"):
        assert f"\n{group}\n" in help_text
    flat = " ".join(help_text.split())
    assert "(default: 100MiB; setting/env HURRICANE_MAX_BODY_SIZE)" in flat
    assert "(default: 30s; setting/env HURRICANE_READ_TIMEOUT)" in flat
    assert "104857600" not in help_text
    result = manage("serve", "--prot", "8000")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "manage.py serve: unrecognized arguments: --prot 8000 (did you mean --port?); --help lists the options"
    ]


def test_the_access_log_has_duration_and_size_and_its_format_is_configurable():
    with serving() as server:
        server.get("/hello")
        server.wait_for_line(r"hurricane\.access\[\d+\]: 127\.0\.0\.1 GET /hello 200 14B \d+\.\dms$")
    fmt = "{method} {path} q={query} -> {status} in {duration_s:.3f}s by worker {worker}"
    with serving("--access-log-format", fmt, "--log-format", "json") as server:
        server.get("/hello?x=1")
        line = server.wait_for_line(r'"logger": "hurricane.access"').string
    entry = json.loads(line)
    assert re.fullmatch(r"GET /hello q=x=1 -> 200 in \d\.\d{3}s by worker 0", entry["message"])
    assert entry["status"] == 200 and entry["bytes"] == 14 and entry["target"] == "/hello?x=1"
    assert entry["duration_ms"] >= 0 and entry["remote"] == "127.0.0.1"


def test_a_bad_access_log_format_is_one_line():
    code, output = run("--access-log-format", "{remote} {nope}")
    assert code == 2
    assert (
        'option --access-log-format: "{remote} {nope}" from the command line names an unknown field' in output
    )


def test_sigusr1_to_the_supervisor_dumps_every_workers_stacks():
    with serving("--workers", "2") as server:
        wait_until(lambda: len(server.worker_pids()) == 2, 30, "two workers", lambda: server.output)
        server.signal(signal.SIGUSR1)
        wait_until(
            lambda: server.output.count("Current thread") + server.output.count("Thread 0x") >= 2,
            10,
            "two stack dumps",
            lambda: server.output,
        )
        assert server.get("/hello")[0] == 200
    assert "asking 2 worker(s) for their stacks" in server.output
