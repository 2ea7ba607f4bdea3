"""The servers under test: how each one starts, and the virtualenv each peer runs from.

Every peer gets its own virtualenv under bench/.venvs (pip from PyPI), so their
dependencies never meet Hurricane's; Hurricane runs from the interpreter that
runs the benchmark. All of them serve the example project from example/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example"
BENCH = ROOT / "bench"
APPS = BENCH / "apps"  # settings and ASGI apps the servers import; nothing of the harness
VENVS = BENCH / ".venvs"
DJANGO = "django>=5.2,<5.3"
VENV_REQUIREMENTS = {
    "gunicorn": [DJANGO, "gunicorn"],
    "uvicorn": [DJANGO, "uvicorn[standard]", "channels"],
    "granian": [DJANGO, "granian", "channels"],
    "daphne": [DJANGO, "daphne", "channels"],
    "django-hurricane": [DJANGO, "django-hurricane==1.6.*"],
    "ws-client": ["websockets"],  # the WebSocket load generator, bench/ws_load.py
}
WSGI = "example.wsgi:application"
ASGI = "example.asgi:application"
WS_ASGI = "ws_app:application"  # the example project plus a Channels echo consumer at /ws/echo

# (app port, worker count, application) -> command line
Argv = Callable[[int, int, str], list[str]]


@dataclass(frozen=True)
class Server:
    name: str
    venv: str | None  # None: the benchmark's own interpreter (Hurricane)
    argv: Argv
    env: dict[str, str]
    app: str  # what it serves ("" when its settings say, as for Hurricane)
    probe: Callable[[int], tuple[int, str]]  # app port -> (port, path) of its readiness check
    probe_kind: str
    scales: bool = True  # has a worker count
    supervises_from: int | None = 1  # fewest workers at which a dead worker is replaced
    respawn_args: list[str] = field(default_factory=list)  # what it needs to replace dead workers
    ws_app: str = WS_ASGI
    ws_env: dict[str, str] = field(default_factory=dict)  # extra environment for the WebSocket rows

    def command(
        self, port: int, workers: int = 1, websocket: bool = False, extra: list[str] | None = None
    ) -> tuple[list[str], dict[str, str]]:
        """The command line and environment for one start."""
        argv = self.argv(port, workers, self.ws_app if websocket else self.app)
        env = {**self.env, **self.ws_env} if websocket else self.env
        return [*argv, *(extra or [])], env


def ensure_venv(name: str) -> None:
    venv = VENVS / name
    marker = venv / ".installed"
    wanted = " ".join(VENV_REQUIREMENTS[name])
    if marker.exists() and marker.read_text() == wanted:
        return
    print(f"setting up {venv} ({wanted})", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, *VENV_REQUIREMENTS[name]], check=True)
    marker.write_text(wanted)


def python(venv: str) -> str:
    return str(VENVS / venv / "bin" / "python")


def base_env(scratch: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HURRICANE_", "DJANGO_", "PYTHON"))}
    env.update(EXAMPLE_DB=str(scratch / "db.sqlite3"), DJANGO_SETTINGS_MODULE="example.settings")
    return env


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
        cwd=EXAMPLE,
        env={**env, "PYTHONPATH": f"{EXAMPLE}{os.pathsep}{ROOT}"},
        check=True,
    )


def make_servers(env: dict[str, str], threads: str | None) -> dict[str, Server]:
    ours = {**env, "PYTHONPATH": f"{EXAMPLE}{os.pathsep}{ROOT}"}
    # Hurricane's WebSocket rows: its settings name the Channels app (ASGI_APPLICATION).
    ours_ws = {
        "PYTHONPATH": f"{EXAMPLE}{os.pathsep}{ROOT}{os.pathsep}{APPS}",
        "DJANGO_SETTINGS_MODULE": "ws_settings",
    }
    # The peers serve the project without "hurricane" in INSTALLED_APPS.
    plain = {**env, "PYTHONPATH": f"{EXAMPLE}{os.pathsep}{APPS}", "DJANGO_SETTINGS_MODULE": "plain_settings"}
    threads_arg = ["--threads", threads] if threads else []
    app_view = "app view"

    def on_app(port: int) -> tuple[int, str]:
        return port, "/hello"

    def on_probe(port: int) -> tuple[int, str]:
        return port + 1, "/ready"

    def gunicorn(*args: str) -> Argv:
        return lambda p, w, app: [python("gunicorn"), "-m", "gunicorn", *args, "--workers", str(w),
                                  "--bind", f"127.0.0.1:{p}", app]  # fmt: skip

    def granian(interface: str) -> Argv:
        return lambda p, w, app: [python("granian"), "-m", "granian", "--interface", interface,
                                  "--host", "127.0.0.1", "--port", str(p), "--workers", str(w), app]  # fmt: skip

    servers = [
        Server(
            "hurricane", None,
            lambda p, w, app: [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(p),
                               "--probe-port", str(p + 1), "--workers", str(w), *threads_arg],
            ours, "", on_probe, "/ready (probe port)", ws_env=ours_ws,
        ),
        Server("gunicorn", "gunicorn", gunicorn(), plain, WSGI, on_app, app_view),
        Server("gunicorn-preload", "gunicorn", gunicorn("--preload"), plain, WSGI, on_app, app_view),
        # granian stops when a worker dies unless told to replace it.
        Server("granian", "granian", granian("wsgi"), plain, WSGI, on_app, app_view,
               respawn_args=["--respawn-failed-workers"]),
        Server("granian-asgi", "granian", granian("asgi"), plain, ASGI, on_app, app_view,
               respawn_args=["--respawn-failed-workers"]),
        # uvicorn supervises its workers only with --workers 2 or more.
        Server(
            "uvicorn", "uvicorn",
            lambda p, w, app: [python("uvicorn"), "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(p),
                               "--workers", str(w), app],
            plain, ASGI, on_app, app_view, supervises_from=2,
        ),
        Server(
            "daphne", "daphne",
            lambda p, w, app: [python("daphne"), "-m", "daphne", "-b", "127.0.0.1", "-p", str(p), app],
            plain, ASGI, on_app, app_view, scales=False, supervises_from=None,
        ),
        Server(
            "django-hurricane", "django-hurricane",
            lambda p, w, app: [python("django-hurricane"), "manage.py", "serve", "--port", str(p),
                               "--probe-port", str(p + 1)],
            {**plain, "DJANGO_SETTINGS_MODULE": "example.settings"}, "", on_probe, "/ready (probe port)",
            scales=False, supervises_from=None,
        ),
    ]  # fmt: skip
    return {server.name: server for server in servers}
