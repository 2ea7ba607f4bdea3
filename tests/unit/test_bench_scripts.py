"""The benchmark scripts are not part of the suite, but each must still start: its imports
follow the modules it borrows from (a rename once left bench/consume.py unable to start)."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.parametrize("script", ["run.py", "consume.py", "parsers.py", "ws_load.py"])
def test_the_script_starts_and_prints_its_usage(script):
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout
