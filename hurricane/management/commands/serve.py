"""``manage.py serve``: validate the options, then become the supervisor."""

from __future__ import annotations

import os
import sys
from argparse import ArgumentParser
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from hurricane import launch

if TYPE_CHECKING:
    from supervisor.options import Options


class Command(BaseCommand):
    help = (
        "Serve this Django project with Hurricane: a supervisor, a probe server and "
        "worker processes. Options may also be set as HURRICANE_<NAME> in settings or "
        "the environment (command line > settings > environment > default)."
    )
    requires_system_checks: list[str] = []  # the workers run the checks, continuously
    name = "serve"  # which options it takes (supervisor.options: commands=)
    worker_kind = "http"

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
            if self.name not in spec.metadata["commands"]:
                continue
            if spec.metadata["positional"]:
                help = spec.metadata["help"].rstrip(".") + f" (or --{name})."
                parser.add_argument(f"{name}_path", nargs="?", metavar=spec.metadata["metavar"], help=help)
            if spec.metadata["flag"]:
                add_flag(parser, name, spec.metadata, spec.default, spec.metadata["help"])
        for alias in ALIASES:
            if self.name in alias.commands:
                target = FIELDS[alias.target]
                add_flag(parser, alias.name, target.metadata, None, alias.help(self.name))

    def handle(self, *args: Any, **given: Any) -> None:
        from hurricane import debugging  # imports supervisor: only after the package check
        from supervisor.options import ALIASES, FIELDS, OptionError, deprecations, env_name, resolve

        names = [*FIELDS, *(alias.name for alias in ALIASES)]
        cli = {name: given.get(name) for name in names}
        for name, spec in FIELDS.items():  # the positional argument is the same option
            if spec.metadata["positional"] and cli.get(name) is None:
                cli[name] = given.get(f"{name}_path")
        from_settings = {
            key: getattr(settings, key) for key in setting_names(names) if hasattr(settings, key)
        }
        # django-hurricane's name for it; the probe process cannot read settings itself.
        if hasattr(settings, "LOG_PROBES"):
            from_settings.setdefault(env_name("log_probes"), settings.LOG_PROBES)
        try:
            options = resolve(cli, from_settings, os.environ, self.name)
            debugging.check_packages(options)
            self.check_options(options)
        except OptionError as exc:
            raise CommandError(str(exc), returncode=2) from None
        for warning in deprecations(cli, from_settings, os.environ, self.name):
            self.stderr.write(f"warning: {warning}")
        launch.exec_supervisor(options, self.worker_kind)

    def check_options(self, options: Options) -> None:
        """What only this command can check, with Django loaded; raises OptionError."""


def setting_names(names: list[str]) -> list[str]:
    """Every settings name an option may be given by: HURRICANE_<NAME>, and django-hurricane's."""
    from supervisor.options import FIELDS, env_name

    legacy = [key for spec in FIELDS.values() for key in spec.metadata["legacy"]]
    return [*(env_name(name) for name in names), *legacy]


def add_flag(parser: ArgumentParser, name: str, meta: Mapping[str, Any], default: Any, help: str) -> None:
    from supervisor.options import flag_name

    flag = flag_name(name)
    shown = "" if default in (None, (), "") or isinstance(default, bool) else f" (default: {default})"
    if meta["switch"]:
        parser.add_argument(flag, dest=name, action="store_const", const=True, default=None, help=help)
    else:
        # Defaults are None so that "--port 8000" counts as given; each value is
        # parsed by its option, which names the option and source on error.
        action = "append" if meta["repeat"] else "store"
        parser.add_argument(
            flag, dest=name, action=action, default=None, metavar=meta["metavar"], help=help + shown
        )
