"""systemd integration of the real serve: sd_notify messages and socket activation."""

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.serving import EXAMPLE, FAST, Server, serve_env, serving, stop, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


class NotifySocket:
    """The datagram socket systemd would listen on, collecting what serve sends."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setblocking(False)
        self.messages: list[str] = []

    def collect(self) -> list[str]:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return self.messages

    def wait_for(self, field: str, server: Server, timeout: float = 30.0) -> int:
        """Wait for a message carrying ``field``; return its index."""

        def find() -> int | None:
            hits = [i for i, m in enumerate(self.collect()) if field in m.split("\n")]
            return hits[0] + 1 if hits else None

        return wait_until(find, timeout, f"{field} on NOTIFY_SOCKET", lambda: server.output) - 1


@pytest.fixture
def notify(tmp_path):
    sock = NotifySocket(str(tmp_path / "notify"))
    yield sock
    sock.sock.close()


def test_serve_tells_systemd_ready_status_watchdog_reloading_and_stopping(notify):
    env = serve_env(NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="400000")
    with serving(env=env, ready=False) as server:
        ready = notify.wait_for("READY=1", server)
        # READY=1 is sent where /startup turns 200; the probe hears of it on the same step.
        wait_until(lambda: server.probe_ok("/startup"), 5, "/startup after READY=1", lambda: server.output)
        assert notify.messages[0].startswith("STATUS=starting: 0/1 workers ready")
        assert notify.messages[ready] == "READY=1\nSTATUS=1/1 workers ready"

        def fed_twice_after_ready() -> bool:
            return notify.collect()[ready:].count("WATCHDOG=1") >= 2

        wait_until(fed_twice_after_ready, 10, "two watchdog pings", lambda: server.output)
        [old_worker] = server.worker_pids()
        server.signal(signal.SIGHUP)
        reloading = notify.wait_for("RELOADING=1", server)

        def ready_again() -> int | None:
            later = [i for i, m in enumerate(notify.collect()) if i > reloading and "READY=1" in m]
            return later[0] if later else None

        reloaded = wait_until(ready_again, 30, "READY=1 after the reload", lambda: server.output)
        # The reload is over when the old worker has handed over to its replacement.
        assert old_worker not in server.worker_pids()
        server.signal(signal.SIGTERM)
        stopping = notify.wait_for("STOPPING=1", server)
        assert server.wait_exit(30) == 0
    messages = notify.collect()
    assert ready < reloading < reloaded < stopping, messages
    assert [i for i, m in enumerate(messages) if "READY=1" in m] == [ready, reloaded]
    assert any(m.startswith("STATUS=stopping") for m in messages[stopping:]), messages


def test_without_notify_socket_serve_sends_nothing_and_runs(notify):
    with serving() as server:
        assert server.get("/hello")[0] == 200
    assert notify.collect() == []


# A stand-in for systemd: put the given listening sockets at fd 3 and 4, announce
# them for this pid (exec keeps it: the wrapper, serve and the supervisor share
# it), then exec serve.
ACTIVATE = """
import fcntl, os, sys
fds = [fcntl.fcntl(int(fd), fcntl.F_DUPFD, 10) for fd in sys.argv[1:3]]
for target, fd in enumerate(fds, start=3):
    os.dup2(fd, target)
os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS="2", LISTEN_FDNAMES="app:probe")
os.execv(sys.executable, [sys.executable, *sys.argv[3:]])
"""


def listening_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock


def test_socket_activation_serves_on_the_passed_sockets_without_binding():
    with listening_socket() as app, listening_socket() as probe:
        fds = [app.fileno(), probe.fileno()]
        # --port/--probe-port name busy ports: binding them would fail, so serving proves
        # the passed sockets were used.
        argv = [str(EXAMPLE / "manage.py"), "serve", *FAST, "--port", str(app.getsockname()[1])]
        argv += ["--probe-port", str(probe.getsockname()[1])]
        proc = subprocess.Popen(
            [sys.executable, "-c", ACTIVATE, *map(str, fds), *argv],
            cwd=EXAMPLE,
            env=serve_env(),
            pass_fds=fds,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        server = Server(proc)
        try:
            server.app_port, server.probe_port = app.getsockname()[1], probe.getsockname()[1]
            server.wait_ready()
            assert server.get("/hello") == (200, b"Hello, world!\n")
            assert "using 2 listening socket(s) passed by systemd" in server.output
            # The variables are consumed: children must not take the sockets for their own.
            for pid in server.children():
                assert b"LISTEN_PID=" not in Path(f"/proc/{pid}/environ").read_bytes()
        finally:
            stop(server)
