"""Whether the kernel's out-of-memory killer sent a SIGKILL, from the cgroup's own count.

"Killed by SIGKILL (out of memory?)" on every SIGKILL is a guess that sends an
operator looking for a leak after someone ran ``kill -9``. The memory cgroup counts
its OOM kills (``oom_kill`` in ``memory.events`` on cgroup v2, in
``memory.oom_control`` on v1): when the count moved, it was the OOM killer.
"""

from __future__ import annotations

from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def counter_files(proc_cgroup: str, root: Path = CGROUP_ROOT) -> list[Path]:
    """Where this process's memory cgroup counts OOM kills, most specific first."""
    found = []
    for line in proc_cgroup.splitlines():
        _, controllers, path = line.split(":", 2)
        relative = path.lstrip("/")
        if controllers == "":  # cgroup v2
            found += [root / relative / "memory.events", root / "memory.events"]
        elif "memory" in controllers.split(","):
            found += [
                root / "memory" / relative / "memory.oom_control",
                root / "memory" / "memory.oom_control",
            ]
    return found


def read_count(files: list[Path]) -> int | None:
    for file in files:
        try:
            text = file.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
    return None


class OomWatch:
    """Explains the SIGKILLs the supervisor did not send: the OOM killer's, or someone else's."""

    def __init__(self, files: list[Path] | None = None) -> None:
        if files is None:
            try:
                files = counter_files(Path("/proc/self/cgroup").read_text())
            except OSError:
                files = []
        self.files = files
        self.seen = read_count(files)

    def explain_kill(self) -> str:
        count = read_count(self.files)
        if count is None:
            return "out of memory? this system does not say"
        moved = self.seen is not None and count > self.seen
        self.seen = count
        if moved:
            return "by the kernel's out-of-memory killer"
        return "not by Hurricane nor the out-of-memory killer: another process sent it"
