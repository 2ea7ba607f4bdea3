"""Hand over from ``manage.py serve`` or ``consume`` to the Django-free supervisor: same PID,
fresh memory."""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path
from typing import TYPE_CHECKING

import hurricane

if TYPE_CHECKING:
    from supervisor.options import Options
    from supervisor.spec import LaunchSpec

WORKER_MODULE = "hurricane.worker"
CONSUMER_MODULE = "hurricane.consumer"
PRESTART_MODULE = "hurricane.run_prestart"
TEMPLATE_MODULE = "hurricane.template"


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


def launch_spec(options: Options, kind: str = "http") -> LaunchSpec:
    """What the supervisor starts: HTTP workers (and the prestart child) for serve,
    consumer workers for consume."""
    import django

    from supervisor import versions
    from supervisor.protocol import WorkerKind  # only after check_supervisor_package()
    from supervisor.spec import LaunchSpec

    prestart = [sys.executable, "-m", PRESTART_MODULE]
    found = versions.collect(django.get_version())
    if WorkerKind(kind) is WorkerKind.CONSUMER:
        # Consumers start as fresh interpreters: the template preloads the HTTP side.
        consumer = [sys.executable, "-m", CONSUMER_MODULE]
        return LaunchSpec(options, consumer, None, found, None, WorkerKind.CONSUMER)
    # Forking from a template needs the supervisor to be a child subreaper: Linux.
    preload = not options.no_preload and sys.platform.startswith("linux")
    template = [sys.executable, "-m", TEMPLATE_MODULE] if preload else None
    return LaunchSpec(options, [sys.executable, "-m", WORKER_MODULE], prestart, found, template)


def exec_supervisor(options: Options, kind: str = "http") -> None:
    """Replace this process with the supervisor (it reads its spec from an inherited
    descriptor). Does not return."""
    from supervisor.spec import write_descriptor

    env = dict(os.environ, PYTHONPATH=python_path())
    spec_fd = write_descriptor(launch_spec(options, kind).to_json().encode())
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "supervisor", "--spec-fd", str(spec_fd)], env)
