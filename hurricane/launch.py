"""Hand over from ``manage.py serve`` to the Django-free supervisor: same PID, fresh memory."""

from __future__ import annotations

import json
import os
import sys
import sysconfig
from pathlib import Path

import hurricane

WORKER_MODULE = "hurricane.worker"
PRESTART_MODULE = "hurricane.prestart"


class WrongSupervisor(RuntimeError):
    """``import supervisor`` finds another project's package (supervisord ships one)."""


def check_supervisor_package() -> None:
    """Fail in one line when ``supervisor`` is not Hurricane's."""
    import supervisor

    if getattr(supervisor, "HURRICANE_SUPERVISOR", False):
        return
    found = getattr(supervisor, "__file__", None) or list(getattr(supervisor, "__path__", []))
    ours = Path(hurricane.__file__).resolve().parent.parent / "supervisor"
    raise WrongSupervisor(
        f"'import supervisor' finds {found}, not Hurricane's supervisor (expected in {ours}); "
        "supervisord installs a package with the same name: uninstall it from this environment"
    )


def python_path() -> str:
    """PYTHONPATH for the children: every sys.path entry outside the interpreter's own dirs.

    That keeps the project directory (manage.py's), --pythonpath and a source
    checkout importable after the exec, wherever the command was started from.
    """
    system = {sysconfig.get_path(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    entries = [p for p in sys.path if p and p not in system and os.path.isdir(p)]
    entries += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return os.pathsep.join(dict.fromkeys(os.path.abspath(p) for p in entries))


def supervisor_argv(options_json: str) -> list[str]:
    worker = [sys.executable, "-m", WORKER_MODULE]
    prestart = [sys.executable, "-m", PRESTART_MODULE]
    return [
        *(sys.executable, "-m", "supervisor", "--options", options_json),
        *("--worker", json.dumps(worker), "--prestart", json.dumps(prestart)),
    ]


def exec_supervisor(options_json: str) -> None:
    """Replace this process with the supervisor. Does not return."""
    env = dict(os.environ, PYTHONPATH=python_path())
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, supervisor_argv(options_json), env)
