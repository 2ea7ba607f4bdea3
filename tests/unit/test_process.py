"""How a child's end is put in words for the log and the probe's last_exit."""

import signal

from supervisor.process import describe_exit


def test_exit_statuses_in_words():
    assert describe_exit(3 << 8) == "exited with code 3"
    assert describe_exit(signal.SIGSEGV) == "killed by SIGSEGV"
    assert describe_exit(signal.SIGKILL) == "killed by SIGKILL (out of memory?)"
    assert describe_exit(signal.SIGKILL, oom_hint=False) == "killed by SIGKILL"
