import os
import subprocess
import sys

import pytest

from tests.consuming import Record, broker
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


@pytest.fixture
def mq(rabbitmq):
    """A publishing and inspecting connection to the session's RabbitMQ node."""
    with broker(rabbitmq.url) as connection:
        yield connection


@pytest.fixture
def record(tmp_path):
    """The file the test handlers (tests/consumer_handlers.py) record each message in."""
    return Record(tmp_path / "record.jsonl")
