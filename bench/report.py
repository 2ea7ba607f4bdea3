"""What a run collected, and the tables it prints: medians, and Hurricane's ratio to each peer."""

from __future__ import annotations

import importlib.util
import os
import platform
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import psutil


@dataclass(frozen=True)
class Row:
    metric: str
    label: str
    higher_better: bool | None  # None: the row measures the machine (the floor), not the server


@dataclass
class Result:
    """One server's samples in one section, over all rounds."""

    values: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, metric: str, value: float | None) -> None:
        if value is not None:
            self.values.setdefault(metric, []).append(value)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def median(self, metric: str) -> float | None:
        got = self.values.get(metric)
        return statistics.median(got) if got else None


def table(rows: list[Row], results: dict[str, Result], names: list[str]) -> str:
    """A markdown table: one column per server, then "vs <peer>" ratio columns when Hurricane ran."""
    peers = [n for n in names if n != "hurricane"] if "hurricane" in names else []
    header = ["metric", *names, *[f"vs {p}" for p in peers]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        values = {n: results[n].median(row.metric) for n in names}
        cells = [row.label, *[fmt(values[n]) for n in names]]
        cells += [ratio(values["hurricane"], values[p], row.higher_better) for p in peers]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"- {name}: {note}" for name in names for note in results[name].notes]
    return "\n".join([*lines, "", *notes] if notes else lines)


def fmt(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def ratio(ours: float | None, theirs: float | None, higher_better: bool | None) -> str:
    """How many times better Hurricane is (>1 better), whichever way the metric points."""
    if higher_better is None or ours is None or theirs is None:
        return "–"
    top, bottom = (ours, theirs) if higher_better else (theirs, ours)
    if not bottom:  # e.g. no request of the peer's finished
        return "∞" if top else "–"
    return f"{top / bottom:.2f}×"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()
    # Hurricane's --loop auto takes uvloop where it is installed, as uvicorn[standard] does.
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {psutil.virtual_memory().total / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}, "
        f"load average before the run's end {load[0]:.2f}; Hurricane's workers on the {loop} event loop"
    )
