"""What a section of the benchmark is: its servers, its rows, and how it measures one server."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from report import Result, Row
from servers import Server

WARM_UP = 2  # seconds of the same load before each measurement, for every server alike


class MeasurementFailed(Exception):
    """A server did something the section cannot measure; the message says what."""


@dataclass(frozen=True)
class Context:
    duration: int  # seconds per wrk run
    logs: Path  # each server's output, appended per start
    floor_port: int  # the do-nothing responder (bench/floor.py)
    kills: int  # kill -9 samples per server and round


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    servers: tuple[str, ...]  # who takes part, in column order
    rows: list[Row]
    measure: Callable[[Server, Context, Result], None]  # one server, one round
