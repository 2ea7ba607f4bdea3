"""--static, --media, --autoreload, --static-watch, --debug and the debugger options."""

import os
import socket
import time
from pathlib import Path

import pytest

from tests.serving import cmdline, run, serve_env, serving, shadowing, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def files(tmp_path):
    dirs = {name: tmp_path / name for name in ("static", "media", "assets")}
    for path in dirs.values():
        path.mkdir()
    (dirs["static"] / "app.css").write_text("body { color: red }\n")
    (dirs["static"] / "ünï.txt").write_text("unicode name\n")
    (dirs["media"] / "upload.bin").write_bytes(bytes(range(256)) * 1024)
    (tmp_path / "secret.txt").write_text("not to be served\n")
    env = serve_env(
        FILES_STATIC_ROOT=str(dirs["static"]),
        FILES_MEDIA_ROOT=str(dirs["media"]),
        FILES_ASSETS=str(dirs["assets"]),
    )
    return dirs, env


def fetch(server, method, path, **headers):
    status, got, body = server.request(method, path, headers=headers)
    return status, {name.lower(): value for name, value in got.items()}, body


def test_static_and_media_with_etag_304_and_ranges(files):
    dirs, env = files
    with serving("--static", "--media", "--settings", "files_settings", env=env) as server:
        status, headers, body = fetch(server, "GET", "/static/app.css")
        assert (status, body) == (200, b"body { color: red }\n")
        assert headers["content-type"] == "text/css"
        etag, modified = headers["etag"], headers["last-modified"]
        assert server.request("GET", "/static/app.css", headers={"If-None-Match": etag})[0] == 304
        assert server.request("GET", "/static/app.css", headers={"If-Modified-Since": modified})[0] == 304
        assert server.request("GET", "/static/%C3%BCn%C3%AF.txt")[2] == b"unicode name\n"
        status, headers, body = fetch(server, "GET", "/media/upload.bin", Range="bytes=256-511")
        assert (status, body) == (206, bytes(range(256)))
        assert headers["content-range"] == f"bytes 256-511/{256 * 1024}"
        status, headers, body = fetch(server, "HEAD", "/media/upload.bin")
        assert (status, headers["content-length"], body) == (200, str(256 * 1024), b"")
        assert len(server.request("GET", "/media/upload.bin")[2]) == 256 * 1024
        assert server.request("GET", "/media/upload.bin", headers={"Range": "bytes=999999-"})[0] == 416
        for path in ("/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/missing.css", "/static/"):
            assert server.request("GET", path)[0] == 404, path
        assert server.request("POST", "/static/app.css")[0] == 405
        assert server.get("/hello")[0] == 200  # everything else still goes to Django


def test_without_the_flags_django_answers(files):
    dirs, env = files
    with serving("--settings", "files_settings", env=env) as server:
        assert server.get("/static/app.css")[0] == 404
        assert server.get("/media/upload.bin")[0] == 404


URLS = """from django.http import HttpResponse
from django.urls import path

urlpatterns = [path("version", lambda request: HttpResponse({version!r}))]
"""


def write_urls(directory: Path, text: str) -> None:
    path = directory / "reloadable_urls.py"
    path.write_text(text)
    later = time.time() + 2  # a different mtime even within the filesystem's resolution
    os.utime(path, (later, later))


def test_autoreload_restarts_workers_keeps_probe_and_survives_a_broken_edit(tmp_path):
    write_urls(tmp_path, URLS.format(version="v1"))
    env = serve_env(tmp_path)
    with serving("--autoreload", "--settings", "reload_settings", env=env) as server:
        assert server.get("/version") == (200, b"v1")
        [probe] = [p for p in server.children() if cmdline(p)[2] == "supervisor.probe"]
        [first] = server.worker_pids()
        server.wait_for_line(r"watching \d+ files for code changes")
        write_urls(tmp_path, URLS.format(version="v2"))
        wait_until(lambda: server.get("/version") == (200, b"v2"), 30, "v2", lambda: server.output)
        # The new worker may answer before the old one leaves the ready set.
        [second] = wait_until(lambda: len(pids := server.worker_pids()) == 1 and pids, 10, "one ready worker")
        assert second != first
        assert probe in server.children()  # the probe process stayed up

        watching = lambda: server.output.count("files for code changes") >= 2  # noqa: E731
        wait_until(watching, 30, "the new worker's watcher", lambda: server.output)
        write_urls(tmp_path, "def broken(:\n")
        # The new code is loaded by a new worker template first; it cannot load it.
        server.wait_for_line(r"the new worker template exited with code 4: SyntaxError")
        attempts = server.output.count("worker 0 (pid")
        time.sleep(3)  # no restart loop: nothing changes until the next edit
        assert server.output.count("worker 0 (pid") == attempts
        assert server.get("/version") == (200, b"v2")  # the old worker still serves
        assert server.worker_pids() == [second]

        write_urls(tmp_path, URLS.format(version="v3"))
        wait_until(
            lambda: server.get("/version") == (200, b"v3"), 30, "v3 after the fix", lambda: server.output
        )
        assert probe in server.children()
    assert "retried in" not in server.output


def test_static_watch_runs_collectstatic_on_change(files):
    dirs, env = files
    (dirs["assets"] / "site.js").write_text("let v = 1;\n")
    args = ("--autoreload", "--static", "--static-watch", str(dirs["assets"]), "--settings", "files_settings")
    with serving(*args, env=env) as server:
        server.wait_for_line(r"watching \d+ files for code changes and static files in 1 dir")
        (dirs["assets"] / "site.js").write_text("let v = 2;\n")
        later = time.time() + 2
        os.utime(dirs["assets"] / "site.js", (later, later))
        wait_until(
            lambda: server.get("/static/site.js") == (200, b"let v = 2;\n"),
            30,
            "the collected file",
            lambda: server.output,
        )
        assert "changed: asking for a reload" not in server.output  # static files reload nothing


def test_debug_turns_on_asyncio_debug_mode_in_the_worker():
    with serving("--debug") as server:
        assert server.get("/hello")[0] == 200
        assert "worker 0: asyncio debug mode" in server.output
    with serving() as server:
        assert "asyncio debug mode" not in server.output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_debugger_listens_in_worker_zero():
    port = free_port()
    with serving("--debugger", "--debugger-port", str(port), "--workers", "2") as server:
        server.wait_for_line(rf"debugpy listening on 127\.0\.0\.1:{port}")
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        assert server.output.count("debugpy listening") == 1
        assert server.get("/hello")[0] == 200


def test_pycharm_without_a_debug_server_warns_and_serves():
    port = free_port()
    with serving("--pycharm-host", "127.0.0.1", "--pycharm-port", str(port)) as server:
        server.wait_for_line(rf"cannot connect to the PyCharm debug server at 127\.0\.0\.1:{port}")
        assert server.get("/hello")[0] == 200


def test_a_missing_debugger_package_is_one_line_and_exit_2(tmp_path):
    env = shadowing(tmp_path, "debugpy", "raise ImportError('debugpy is not installed here')\n")
    code, output = run("--debugger", env=env)
    assert code == 2
    [line] = output.strip().splitlines()
    assert line == (
        "CommandError: option --debugger: True from the options needs the debugpy package: "
        "pip install 'hurricane-server[debug]'"
    )


def test_deprecated_max_lifetime_warns_and_probe_alias_sets_the_liveness_path():
    with serving("--max-lifetime", "1000", "--probe", "/livez", ready=False) as server:
        wait_until(lambda: server.probe_ok("/livez"), 30, "/livez", lambda: server.output)
        assert server.request("GET", "/alive", port=server.probe_port)[0] == 404
        assert (
            "warning: --max-lifetime is deprecated: use --max-requests (HURRICANE_MAX_REQUESTS)"
            in server.output
        )
