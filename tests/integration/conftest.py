import os
import subprocess
import sys

import pytest

from tests.serving import EXAMPLE, serve_env


@pytest.fixture(scope="session", autouse=True)
def example_database(tmp_path_factory):
    """A migrated SQLite database for the example project, shared by the session."""
    path = tmp_path_factory.mktemp("db") / "example.sqlite3"
    os.environ["EXAMPLE_DB"] = str(path)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
        cwd=EXAMPLE,
        env=serve_env(),
        check=True,
        timeout=60,
    )
    return path
