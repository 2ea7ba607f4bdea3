"""``manage.py serve``: validate the options, then become the supervisor."""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
from argparse import ArgumentParser, _ArgumentGroup
from typing import TYPE_CHECKING, Any, NoReturn

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

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

    def get_version(self) -> str:
        """``serve --version``: Hurricane's version, with Django's and Python's."""
        import django

        from supervisor import versions

        return versions.line(versions.collect(django.get_version()))

    def run_from_argv(self, argv: list[str]) -> None:
        # Checked before add_arguments, which already needs our supervisor package.
        try:
            launch.check_supervisor_package()
        except launch.WrongSupervisor as exc:
            sys.stderr.write(f"CommandError: {exc}\n")
            sys.exit(2)
        super().run_from_argv(argv)

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # An unknown option is one line with a suggestion, not the 80-line usage.
        parser.error = functools.partial(one_line_error, parser)  # type: ignore[method-assign]
        return parser

    def add_arguments(self, parser: ArgumentParser) -> None:
        add_option_flags(parser, self.name)

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
        if self.worker_kind == "http":
            missing = debugging.missing_websockets(getattr(settings, "ASGI_APPLICATION", None))
            if missing is not None:
                raise CommandError(missing, returncode=2)
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


def add_option_flags(parser: ArgumentParser, command: str) -> None:
    """The command's options as flags, in the groups docs/options.md uses."""
    from supervisor.options import ALIASES, FIELDS, GROUPS, flag_name

    groups = {name: parser.add_argument_group(name) for name in GROUPS}
    for name, spec in FIELDS.items():
        if command not in spec.metadata["commands"]:
            continue
        if spec.metadata["positional"]:
            help = spec.metadata["help"].rstrip(".") + f" (or {flag_name(name)})."
            parser.add_argument(f"{name}_path", nargs="?", metavar=spec.metadata["metavar"], help=help)
        if spec.metadata["flag"]:
            add_flag(groups[spec.metadata["group"]], name, spec, spec.metadata["help"])
    for alias in ALIASES:
        if command in alias.commands:
            group = groups[FIELDS[alias.target].metadata["group"]]
            add_flag(group, alias.name, FIELDS[alias.target], alias.help(command), with_default=False)


def add_flag(
    parser: ArgumentParser | _ArgumentGroup,
    name: str,
    spec: dataclasses.Field[Any],
    help: str,
    with_default: bool = True,
) -> None:
    from supervisor.options import env_name, flag_name, shown_default

    meta = spec.metadata
    default = shown_default(spec) if with_default else None
    where = f"setting/env {env_name(name)}"
    help = f"{help} (default: {default}; {where})" if default else f"{help} ({where})"
    if meta["switch"]:
        parser.add_argument(
            flag_name(name), dest=name, action="store_const", const=True, default=None, help=help
        )
    else:
        # Defaults are None so that "--port 8000" counts as given; each value is
        # parsed by its option, which names the option and source on error.
        action = "append" if meta["repeat"] else "store"
        parser.add_argument(
            flag_name(name), dest=name, action=action, default=None, metavar=meta["metavar"], help=help
        )


def one_line_error(parser: CommandParser, message: str) -> NoReturn:
    """A usage error in one line, with the closest flag when one was mistyped."""
    from supervisor.options import suggestion

    if not parser.called_from_command_line:
        raise CommandError(f"Error: {message}")
    known = [flag for action in parser._actions for flag in action.option_strings if flag.startswith("--")]
    unknown = [word for word in message.split() if word.startswith("--")]
    close = suggestion(unknown[0], known) if unknown else None
    hint = f" (did you mean {close}?)" if close else ""
    sys.stderr.write(f"{parser.prog}: {message}{hint}; --help lists the options\n")
    sys.exit(2)
