"""How a child's end is put in words for the log and the probe's last_exit."""

import signal

from supervisor.oom import OomWatch, counter_files
from supervisor.process import describe_exit


def test_exit_statuses_in_words():
    assert describe_exit(3 << 8) == "exited with code 3"
    assert describe_exit(signal.SIGSEGV) == "killed by SIGSEGV"
    assert describe_exit(signal.SIGKILL) == "killed by SIGKILL"
    assert describe_exit(signal.SIGKILL, "why") == "killed by SIGKILL (why)"
    assert describe_exit(signal.SIGTERM, "why") == "killed by SIGTERM"


def test_the_cgroups_oom_count_tells_the_oom_killer_from_someone_elses_kill(tmp_path):
    events = tmp_path / "memory.events"
    events.write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    watch = OomWatch([tmp_path / "missing", events])
    assert watch.explain_kill() == "not by Hurricane nor the out-of-memory killer: another process sent it"
    events.write_text("low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\n")
    assert watch.explain_kill() == "by the kernel's out-of-memory killer"
    assert "another process" in watch.explain_kill()  # the count did not move again


def test_without_a_readable_count_it_does_not_pretend_to_know(tmp_path):
    assert OomWatch([tmp_path / "nothing"]).explain_kill() == "out of memory? this system does not say"


def test_where_the_counts_are_for_cgroup_v1_and_v2(tmp_path):
    v1 = counter_files("4:memory:/pod/abc\n1:cpu:/\n", tmp_path)
    assert v1[0] == tmp_path / "memory" / "pod" / "abc" / "memory.oom_control"
    v2 = counter_files("0::/system.slice/hurricane.service\n", tmp_path)
    assert v2[0] == tmp_path / "system.slice" / "hurricane.service" / "memory.events"
