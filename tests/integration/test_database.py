"""Readiness through a real PostgreSQL outage: the tests stop and start the server itself."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.load import Load
from tests.serving import EXAMPLE, serve_env, serving, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

CHECK_INTERVAL, CHECK_TIMEOUT = 0.5, 2.0


@pytest.fixture(scope="module")
def database(postgres_server):
    postgres_server.start()
    postgres_server.create_database("hurricane_example")
    env = serve_env(TEST_PG_NAME="hurricane_example", TEST_PG_PORT=str(postgres_server.port))
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--settings", "postgres_settings", "--verbosity", "0"],
        cwd=EXAMPLE,
        env=env,
        check=True,
        timeout=60,
    )
    return postgres_server, env


def test_an_outage_fails_readiness_naming_the_alias_and_a_recovery_needs_no_restart(database):
    postgres, env = database
    args = ["--settings", "postgres_settings", "--check-interval", str(CHECK_INTERVAL)]
    with serving(*args, "--check-timeout", str(CHECK_TIMEOUT), env=env) as server:
        [worker] = server.worker_pids()
        assert server.get("/notes")[0] == 200
        with postgres.down():
            stopped = time.monotonic()
            status, body = wait_until(lambda: failing(server), 10, "/ready to fail", lambda: server.output)
            noticed = time.monotonic() - stopped
            print(f"readiness failed {noticed:.2f}s after the server stopped")
            assert body["reason"].startswith("database default: OperationalError")
            assert noticed < CHECK_INTERVAL + CHECK_TIMEOUT + 1.0  # a heartbeat or so on top
            assert server.probe("/alive")[0] == 200  # an outage must not restart pods
            asked = time.monotonic()
            assert server.get("/notes", timeout=10)[0] == 500  # at once, not after a hang
            assert time.monotonic() - asked < 3.0
            assert server.probe("/alive")[0] == 200
        wait_until(lambda: server.probe_ok("/ready"), 10, "/ready to recover", lambda: server.output)
        assert server.get("/notes")[0] == 200
        assert server.worker_pids() == [worker]
    assert "database default failing: OperationalError" in server.output
    assert "database default ok again" in server.output


def failing(server):
    status, body = server.probe("/ready")
    return (status, body) if status == 503 else None


def test_a_worker_keeps_a_bounded_number_of_database_connections(database):
    postgres, env = database
    env = {**env, "TEST_PG_CONN_MAX_AGE": "60"}
    args = ["--settings", "postgres_settings", "--db-connections-kept", "4", "--no-adaptive-views"]
    with serving(*args, env=env) as server:
        with Load(server.app_port, "/notes", connections=32) as load:
            wait_until(lambda: load.tally.ok >= 500, 60, "500 requests", lambda: server.output)
            busiest = backends(postgres)
            tally = load.stop()
        assert tally.failures == []
        wait_until(lambda: backends(postgres) <= 4, 10, "at most 4 connections kept", lambda: server.output)
    assert busiest > 4  # while the load ran, the requests had the connections they needed


def backends(postgres) -> int:
    import psycopg

    with psycopg.connect(postgres.conninfo("hurricane_example")) as conn:
        query = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
        return conn.execute(query, ["hurricane_example"]).fetchone()[0]
