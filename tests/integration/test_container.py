"""The container image's HEALTHCHECK command, run against the real serve."""

import subprocess
import sys

import pytest

from supervisor.options import Options
from tests.dockerfile import healthcheck_argv
from tests.serving import serving

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def run_check(code: str) -> int:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=30, check=False
    ).returncode


def test_healthcheck_passes_while_serving_and_fails_once_stopped():
    code = healthcheck_argv()[2]
    in_image = f"127.0.0.1:{Options().effective_probe_port}"
    assert in_image in code
    with serving() as server:
        # The image listens on the default ports; this server on ephemeral ones.
        here = code.replace(in_image, f"127.0.0.1:{server.probe_port}")
        assert run_check(here) == 0
    assert run_check(here) != 0
