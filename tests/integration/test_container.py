"""The container image's runtime settings and HEALTHCHECK, run against the real serve."""

import subprocess
import sys

import pytest

from supervisor.options import Options
from tests.dockerfile import healthcheck_argv, image_env
from tests.serving import serve_env, serving

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def run_check(code: str) -> int:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=30, check=False
    ).returncode


def test_image_env_migrates_a_fresh_database_and_the_healthcheck_follows_serve(tmp_path):
    # The image's ENV, with its /data volume moved to a fresh directory here.
    env = serve_env(**{**image_env(), "EXAMPLE_DB": str(tmp_path / "db.sqlite3")})
    code = healthcheck_argv()[2]
    in_image = f"127.0.0.1:{Options().effective_probe_port}"
    assert in_image in code
    with serving(env=env) as server:
        assert server.get("/notes")[0] == 200  # its table exists: migrated at start
        # The image listens on the default ports; this server on ephemeral ones.
        here = code.replace(in_image, f"127.0.0.1:{server.probe_port}")
        assert run_check(here) == 0
    assert run_check(here) != 0
