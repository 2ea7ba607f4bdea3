"""``manage.py serve``: validate the options, then become the supervisor."""

from __future__ import annotations

import os
import sys
from argparse import ArgumentParser
from collections.abc import Mapping
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
        from supervisor.options import ALIASES, FIELDS

        for name, spec in FIELDS.items():
            if spec.metadata["flag"]:
                add_flag(parser, name, spec.metadata, spec.default, spec.metadata["help"])
        for alias in ALIASES:
            target = FIELDS[alias.target]
            add_flag(parser, alias.name, target.metadata, None, alias.help)

    def handle(self, *args: Any, **given: Any) -> None:
        from hurricane import debugging  # imports supervisor: only after the package check
        from supervisor.options import ALIASES, FIELDS, OptionError, deprecations, env_name, resolve

        names = [*FIELDS, *(alias.name for alias in ALIASES)]
        cli = {name: given.get(name) for name in names}
        from_settings = {
            env_name(name): getattr(settings, env_name(name))
            for name in names
            if hasattr(settings, env_name(name))
        }
        # django-hurricane's name for it; the probe process cannot read settings itself.
        if hasattr(settings, "LOG_PROBES"):
            from_settings.setdefault(env_name("log_probes"), settings.LOG_PROBES)
        try:
            options = resolve(cli, from_settings, os.environ)
            debugging.check_packages(options)
        except OptionError as exc:
            raise CommandError(str(exc), returncode=2) from None
        for warning in deprecations(cli, from_settings, os.environ):
            self.stderr.write(f"warning: {warning}")
        launch.exec_supervisor(options)


def add_flag(parser: ArgumentParser, name: str, meta: Mapping[str, Any], default: Any, help: str) -> None:
    from supervisor.options import flag_name

    flag = flag_name(name)
    shown = "" if default in (None, ()) or isinstance(default, bool) else f" (default: {default})"
    if meta["switch"]:
        parser.add_argument(flag, dest=name, action="store_const", const=True, default=None, help=help)
    else:
        # Defaults are None so that "--port 8000" counts as given; each value is
        # parsed by its option, which names the option and source on error.
        action = "append" if meta["repeat"] else "store"
        parser.add_argument(
            flag, dest=name, action=action, default=None, metavar=meta["metavar"], help=help + shown
        )
