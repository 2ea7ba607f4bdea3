"""``python -m supervisor.probe --spec-fd N``: the probe process, started by the supervisor."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys

import tornado.httpserver

from supervisor import child, logs, protocol
from supervisor.options import Options
from supervisor.pipes import PipeReader
from supervisor.probe.app import make_server
from supervisor.probe.state import ProbeState
from supervisor.titles import set_title

PROBE_IDLE_TIMEOUT = 10.0
PROBE_MAX_BODY = 64 * 1024  # probes send no body; anything bigger is not a probe
SNAPSHOT_LIMIT = 1 << 24


def main(argv: list[str]) -> int:
    spec = child.start(argv)
    logs.configure(spec.options.log_level, spec.options.log_format)
    asyncio.run(serve(spec.options, spec.fds["probe"], spec.pipe, spec.parent_pid))
    return 0


async def serve(options: Options, probe_fd: int, pipe: int, parent: int) -> None:
    state = ProbeState(options)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stopped.set)
    # Probes open a connection per check; idle ones do not need to linger.
    server = tornado.httpserver.HTTPServer(
        make_server(options, state),
        xheaders=False,
        idle_connection_timeout=PROBE_IDLE_TIMEOUT,
        max_body_size=PROBE_MAX_BODY,
    )
    sock = socket.socket(fileno=probe_fd)
    server.add_sockets([sock])
    set_title(f"hurricane probe :{sock.getsockname()[1]}")
    snapshots = PipeReader(pipe, "supervisor", limit=SNAPSHOT_LIMIT)

    def on_readable() -> None:
        for data in snapshots.read():
            snapshot = protocol.decode_snapshot(data, "supervisor")
            if snapshot is not None:
                state.update(snapshot)
        if snapshots.eof:  # the supervisor is gone: so are we
            child.parent_gone("its pipe is closed")

    loop.add_reader(pipe, on_readable)
    watch = asyncio.ensure_future(child.watch_parent(parent))
    await stopped.wait()
    watch.cancel()
    server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
