"""docs/options.md documents every option of the real serve and consume commands, and nothing else.

The `consume` section (from its `## ` heading to the next) documents consume's
options; the rest of the page, serve's.
"""

import re
from pathlib import Path

import pytest
from django.core.management.base import BaseCommand

from hurricane.management.commands import consume, serve
from supervisor.options import ALIASES, FIELDS, env_name, flag_name, takes

DOCS = Path(__file__).resolve().parents[2] / "docs" / "options.md"
README = DOCS.parent.parent / "README.md"
COMMANDS = {"serve": serve.Command, "consume": consume.Command}


def command_flags(name: str) -> set[str]:
    ours = COMMANDS[name]().create_parser("manage.py", name)
    django = BaseCommand().create_parser("manage.py", "base")
    flags = {s for action in ours._actions for s in action.option_strings}
    return {f for f in flags if f.startswith("--")} - {
        s for action in django._actions for s in action.option_strings
    }


def table_rows(command: str) -> list[list[str]]:
    rows, section = [], "serve"
    for line in DOCS.read_text().splitlines():
        if line.startswith("## "):
            section = "consume" if "`consume`" in line and "Migrating" not in line else "serve"
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if (
            section == command
            and line.startswith("|")
            and len(cells) == 4
            and cells[0] not in ("option", "---")
        ):
            rows.append(cells)
    return rows


def documented_flags(command: str) -> set[str]:
    return {m for row in table_rows(command) for m in re.findall(r"`(--[a-z-]+)", row[0])}


def names_of(row: list[str]) -> list[str]:
    """The settings and environment names on a row: ``HURRICANE_PORT``, ``AMQP_HOST``."""
    return re.findall(r"`([A-Z][A-Z_]+)`", row[1])


@pytest.mark.parametrize("command", COMMANDS)
def test_every_flag_is_documented(command):
    missing = command_flags(command) - documented_flags(command)
    assert not missing, f"add these {command} options to {DOCS.name}: {sorted(missing)}"


@pytest.mark.parametrize("command", COMMANDS)
def test_the_docs_list_no_flag_that_the_command_lacks(command):
    stale = documented_flags(command) - command_flags(command)
    assert not stale, f"{DOCS.name} documents {command} options it does not have: {sorted(stale)}"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_and_alias_has_its_environment_name_next_to_it(command):
    rows = {name: row for row in table_rows(command) for name in names_of(row)}
    for name in [*FIELDS, *(alias.name for alias in ALIASES)]:
        if not takes(command, name):
            continue
        key = env_name(name)
        assert key in rows, f"{DOCS.name} lacks {key} for {command}"
        spec = FIELDS.get(name)
        if spec is not None and spec.metadata["positional"]:
            assert rows[key][0].startswith(f"`{spec.metadata['metavar']}`"), (
                f"{key} is not on the row of its argument"
            )
        elif spec is None or spec.metadata["flag"]:
            assert rows[key][0].startswith(f"`{flag_name(name)}"), (
                f"{key} is not on the row of {flag_name(name)}"
            )
        for legacy in spec.metadata["legacy"] if spec is not None else ():
            assert legacy in names_of(rows[key]), f"{legacy} (django-hurricane's name) is not next to {key}"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_row_has_a_default_and_a_meaning(command):
    for option, _, default, meaning in table_rows(command):
        assert meaning, option
        is_alias = "alias" in meaning
        assert default or is_alias, f"{option} has no default in {DOCS.name}"


def test_the_readme_links_the_options():
    assert "(docs/options.md)" in README.read_text()
