"""docs/options.md documents every option of the real serve command, and nothing else."""

import re
from pathlib import Path

from django.core.management.base import BaseCommand

from hurricane.management.commands.serve import Command
from supervisor.options import ALIASES, FIELDS, env_name, flag_name

DOCS = Path(__file__).resolve().parents[2] / "docs" / "options.md"
README = DOCS.parent.parent / "README.md"


def serve_flags() -> set[str]:
    ours = Command().create_parser("manage.py", "serve")
    django = BaseCommand().create_parser("manage.py", "base")
    flags = {s for action in ours._actions for s in action.option_strings}
    return {f for f in flags if f.startswith("--")} - {
        s for action in django._actions for s in action.option_strings
    }


def table_rows() -> list[list[str]]:
    rows = []
    for line in DOCS.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 4 and cells[0] not in ("option", "---"):
            rows.append(cells)
    return rows


def documented_flags() -> set[str]:
    return {m for row in table_rows() for m in re.findall(r"`(--[a-z-]+)", row[0])}


def test_every_serve_flag_is_documented():
    missing = serve_flags() - documented_flags()
    assert not missing, f"add these options to {DOCS.name}: {sorted(missing)}"


def test_the_docs_list_no_flag_that_serve_lacks():
    stale = documented_flags() - serve_flags()
    assert not stale, f"{DOCS.name} documents options serve does not have: {sorted(stale)}"


def test_every_option_and_alias_has_its_environment_name_next_to_it():
    rows = {row[1].strip("`"): row for row in table_rows()}
    for name in [*FIELDS, *(alias.name for alias in ALIASES)]:
        key = env_name(name)
        assert key in rows, f"{DOCS.name} lacks {key}"
        flag = flag_name(name)
        if FIELDS.get(name) is None or FIELDS[name].metadata["flag"]:
            assert rows[key][0].startswith(f"`{flag}"), f"{key} is not on the row of {flag}"


def test_every_row_has_a_default_and_a_meaning():
    for option, _, default, meaning in table_rows():
        assert meaning, option
        is_alias = "alias" in meaning
        assert default or is_alias, f"{option} has no default in {DOCS.name}"


def test_the_readme_links_the_options():
    assert "(docs/options.md)" in README.read_text()
