"""``python -m supervisor.probe --spec JSON``: the probe process, started by the supervisor."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys

import tornado.httpserver
import tornado.ioloop

from supervisor import child, logs, protocol
from supervisor.options import Options
from supervisor.probe.app import make_server
from supervisor.probe.state import ProbeState

PROBE_IDLE_TIMEOUT = 10.0
PROBE_MAX_BODY = 64 * 1024  # probes send no body; anything bigger is not a probe


def main(argv: list[str]) -> int:
    spec = child.read_spec(argv)
    parent = int(spec["parent_pid"])
    child.follow_parent(parent)
    options = Options.from_json(spec["options"])
    logs.configure(options.log_level, options.log_format)
    asyncio.run(serve(options, int(spec["probe_fd"]), int(spec["pipe"]), parent))
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
    server.add_sockets([socket.socket(fileno=probe_fd)])
    reader = protocol.LineReader("supervisor", limit=1 << 24)
    os.set_blocking(pipe, False)

    def on_readable() -> None:
        try:
            data = os.read(pipe, 1 << 20)
        except BlockingIOError:
            return
        if not data:  # the supervisor is gone: so are we
            stopped.set()
            return
        for msg in reader.feed(data):
            state.update(msg)

    loop.add_reader(pipe, on_readable)
    watchdog = tornado.ioloop.PeriodicCallback(
        lambda: None if child.parent_alive(parent) else stopped.set(), 1000
    )
    watchdog.start()
    await stopped.wait()
    server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
