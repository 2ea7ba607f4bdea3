"""``python -m hurricane.run_prestart --spec-fd N``: run ``--command`` and the migration checks.

Started by the supervisor before any worker; exit status 0 lets the workers start.
Each stage is reported over the pipe so that ``/startup`` can say what it waits for.
"""

from __future__ import annotations

import logging
import shlex
import sys
import time

from hurricane.boot import describe, hint
from supervisor import child, logs, protocol
from supervisor.options import Options

log = logging.getLogger("hurricane.supervisor")

POLL = 1.0  # seconds between migration checks, as django-hurricane did
EXIT_FAILED = 1


def main(argv: list[str]) -> int:
    spec = child.start(argv)
    options = spec.options
    parent = child.ParentPipe(spec.pipe)

    def report(stage: str) -> None:
        parent.send(protocol.PrestartStage(stage[:500]))

    import django

    try:
        django.setup(set_prefix=False)
    except Exception as exc:
        logs.configure(options.log_level, options.log_format)
        log.debug("prestart cannot load the application", exc_info=exc)
        log.error("the application cannot start: %s%s", describe(exc), hint(options))
        return protocol.EXIT_BOOT_ERROR
    logs.configure(options.log_level, options.log_format)
    # Command output goes to stdout, log lines to stderr: line buffering keeps
    # them in the order they happened.
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    from hurricane import migrations

    for command in options.command:
        report(f"command {command!r}")
        if not run_command(command, options):
            return EXIT_FAILED
    checking = options.check_migrations or options.check_migrations_apply
    if checking and not migrations.wait(options.check_migrations_apply, report, POLL):
        return EXIT_FAILED
    return 0


def run_command(command: str, options: Options) -> bool:
    """Run one management command in this process; its output goes to the log as it is."""
    from django.core.management import CommandError, call_command

    log.info("running command %r", command)
    started = time.monotonic()
    try:
        call_command(*shlex.split(command))
    except SystemExit as exc:  # some commands exit instead of raising (check, makemigrations --check)
        if exc.code not in (0, None):
            log.error("command %r failed: it exited with %s", command, exc.code)
            return False
    except CommandError as exc:
        log.error("command %r failed: %s", command, exc)
        return False
    except Exception as exc:
        log.debug("command %r failed", command, exc_info=exc)
        log.error("command %r failed: %s%s", command, describe(exc), hint(options))
        return False
    log.info("command %r finished in %.2fs", command, time.monotonic() - started)
    return True


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
