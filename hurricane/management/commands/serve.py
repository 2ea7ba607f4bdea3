"""``manage.py serve``: validate the options, then become the supervisor."""

from __future__ import annotations

import os
import sys
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from hurricane import launch


class Command(BaseCommand):
    help = (
        "Serve this Django project with Hurricane: a supervisor, a probe server and "
        "worker processes. Options may also be set as HURRICANE_<NAME> in settings or "
        "the environment (command line > settings > environment > default)."
    )
    requires_system_checks: list[str] = []  # the workers run the checks, continuously

    def run_from_argv(self, argv: list[str]) -> None:
        # Checked before add_arguments, which already needs our supervisor package.
        try:
            launch.check_supervisor_package()
        except launch.WrongSupervisor as exc:
            sys.stderr.write(f"CommandError: {exc}\n")
            sys.exit(2)
        super().run_from_argv(argv)

    def add_arguments(self, parser: ArgumentParser) -> None:
        from supervisor.options import FIELDS

        for name, spec in FIELDS.items():
            flag = "--" + name.replace("_", "-")
            meta = spec.metadata
            default = spec.default
            shown = "" if default is None or isinstance(default, bool) else f" (default: {default})"
            if meta["parse"].__name__ == "parse_bool":
                parser.add_argument(
                    flag, dest=name, action="store_const", const=True, default=None, help=meta["help"]
                )
            else:
                # Defaults are None so that "--port 8000" counts as given; each value is
                # parsed by its option, which names the option and source on error.
                parser.add_argument(
                    flag, dest=name, default=None, metavar=meta["metavar"], help=meta["help"] + shown
                )

    def handle(self, *args: Any, **given: Any) -> None:
        from supervisor.options import FIELDS, OptionError, env_name, resolve

        cli = {name: given.get(name) for name in FIELDS}
        from_settings = {
            env_name(name): getattr(settings, env_name(name))
            for name in FIELDS
            if hasattr(settings, env_name(name))
        }
        # django-hurricane's name for it; the probe process cannot read settings itself.
        if hasattr(settings, "LOG_PROBES"):
            from_settings.setdefault(env_name("log_probes"), settings.LOG_PROBES)
        try:
            options = resolve(cli, from_settings, os.environ)
        except OptionError as exc:
            raise CommandError(str(exc), returncode=2) from None
        launch.exec_supervisor(options.to_json())
