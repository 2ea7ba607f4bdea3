"""The probe child as the supervisor sees it: started with the probe socket, fed snapshots,
restarted when it dies while the server runs."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from collections.abc import Callable

from supervisor import protocol
from supervisor.options import Options
from supervisor.pipes import LatestLineWriter
from supervisor.process import ChildProcess, Pipe, Reaper, describe_exit, spawn

log = logging.getLogger("hurricane.supervisor")

ARGV = [sys.executable, "-m", "supervisor.probe"]
RESPAWN_DELAY = 1.0
SNAPSHOT_LIMIT = 1 << 24  # a snapshot is not one atomic write; LatestLineWriter finishes it


class ProbeProcess:
    def __init__(
        self,
        options: Options,
        sock: socket.socket,
        reaper: Reaper,
        clock: Callable[[], float],
        argv: list[str] | None = None,
    ) -> None:
        self.options = options
        self.sock = sock
        self.reaper = reaper
        self.clock = clock
        self.argv = argv or ARGV
        self.child: ChildProcess | None = None
        self.writer: LatestLineWriter | None = None
        self.respawn_at: float | None = None
        self.shutting_down = False  # a clean exit now is not restarted (a crash still is)
        self.stopped = False  # the server is finishing: no exit is restarted

    def start(self) -> None:
        child = self.child = spawn(
            "probe", self.argv, self.options, {"probe": self.sock.fileno()}, Pipe.TO_CHILD
        )
        assert child.pipe is not None
        self.writer = LatestLineWriter(child.pipe)
        self.respawn_at = None
        self.reaper.watch(child.pid, self.on_exit)
        log.debug("probe started (pid %d)", child.pid)

    def publish(self, snapshot: protocol.Snapshot) -> None:
        if self.writer is None:
            return
        try:
            self.writer.send(protocol.encode(snapshot, limit=SNAPSHOT_LIMIT))
        except BrokenPipeError:
            pass  # the probe died; on_exit restarts it

    def tick(self, now: float) -> None:
        if self.child is None and self.respawn_at is not None and now >= self.respawn_at:
            self.start()

    def on_exit(self, status: int) -> None:
        assert self.child is not None
        self.child.reaped(status)
        self.child.close_pipe()
        self.child = self.writer = None
        how = describe_exit(status)
        if self.stopped:
            return
        if self.shutting_down and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            log.info("probe process %s during the shutdown: not restarted", how)  # it got the stop signal too
            return
        log.error("probe process %s: restarting it", how)
        self.respawn_at = self.clock() + RESPAWN_DELAY

    def stop(self) -> ChildProcess | None:
        """SIGTERM the probe; returns it, for the caller to wait for."""
        self.stopped = True
        if self.child is not None:
            self.child.send(signal.SIGTERM)
        return self.child

    @property
    def pid(self) -> int | None:
        return None if self.child is None else self.child.pid
