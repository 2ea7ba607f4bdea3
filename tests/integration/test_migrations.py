"""--check-migrations-apply with more than one database."""

import sqlite3
from contextlib import closing

import pytest

from tests.serving import serve_env, serving

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def tables(path) -> set[str]:
    with closing(sqlite3.connect(path)) as db:  # sqlite3's own context manager does not close
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_every_database_is_migrated_before_startup(tmp_path):
    default, other = tmp_path / "default.sqlite3", tmp_path / "other.sqlite3"
    env = serve_env(EXAMPLE_DB=str(default), EXAMPLE_OTHER_DB=str(other))
    with serving("--settings", "two_db_settings", "--check-migrations-apply", env=env) as server:
        assert server.probe("/startup")[0] == 200
        assert server.get("/notes")[0] == 200
    assert "notes_note" in tables(default)
    assert "notes_note" in tables(other)
    assert server.output.count("applying migrations to database") == 2
