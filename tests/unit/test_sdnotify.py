import os
import socket

import pytest

from supervisor.loop import Supervisor
from supervisor.options import Options
from supervisor.protocol import Snapshot
from supervisor.sdnotify import Notifier, status_text
from supervisor.sockets import passed_fds
from supervisor.wire import from_wire


@pytest.fixture
def listener(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(0)
    yield sock
    sock.close()


def received(sock: socket.socket) -> list[str]:
    messages = []
    while True:
        try:
            messages.append(sock.recv(4096).decode())
        except BlockingIOError:
            return messages


def notifier_for(sock: socket.socket, **environ: str) -> Notifier:
    return Notifier.from_environ({"NOTIFY_SOCKET": sock.getsockname(), **environ}, pid=42)


def test_without_notify_socket_nothing_is_sent_and_nothing_fails():
    notifier = Notifier.from_environ({"WATCHDOG_USEC": "1000000"}, pid=42)
    assert not notifier.enabled
    notifier.ready("ok")
    notifier.watchdog(10.0, healthy=True)
    notifier.stopping()


def test_ready_status_and_stopping_are_datagrams_of_key_value_lines(listener):
    notifier = notifier_for(listener)
    notifier.status("starting: 0/2 workers ready")
    notifier.ready("2/2 workers ready")
    notifier.stopping()
    assert received(listener) == [
        "STATUS=starting: 0/2 workers ready",
        "READY=1\nSTATUS=2/2 workers ready",
        "STOPPING=1",
    ]


def test_status_is_sent_only_when_it_changes_and_stopping_only_once(listener):
    notifier = notifier_for(listener)
    for text in ("a", "a", "b", "b", "a"):
        notifier.status(text)
    notifier.stopping()
    notifier.stopping()
    assert received(listener) == ["STATUS=a", "STATUS=b", "STATUS=a", "STOPPING=1"]


def test_reloading_waits_for_ready_and_nothing_is_ready_once_stopping(listener):
    notifier = notifier_for(listener)
    notifier.reloading()
    assert notifier.reload_pending
    notifier.ready("reloaded")
    assert not notifier.reload_pending
    notifier.stopping()
    notifier.ready("too late")
    assert [m.split("\n")[0] for m in received(listener)] == ["RELOADING=1", "READY=1", "STOPPING=1"]


def test_reloading_carries_the_monotonic_clock_as_systemd_requires(listener):
    notifier_for(listener).reloading()
    [message] = received(listener)
    first, clock = message.split("\n")
    assert first == "RELOADING=1"
    assert clock.startswith("MONOTONIC_USEC=") and int(clock.partition("=")[2]) > 0


def test_abstract_socket_names_start_with_at():
    name = f"hurricane-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        Notifier.from_environ({"NOTIFY_SOCKET": "@" + name}, pid=42).ready("up")
        assert sock.recv(4096) == b"READY=1\nSTATUS=up"


def test_watchdog_is_fed_at_half_the_interval_and_only_while_healthy(listener):
    notifier = notifier_for(listener, WATCHDOG_USEC="4000000")
    fed = []
    for now, healthy in [(0.0, True), (1.0, True), (2.0, True), (3.0, True), (4.5, False), (5.0, True)]:
        notifier.watchdog(now, healthy)
        fed.append(bool(received(listener)))
    assert fed == [True, False, True, False, False, True]


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"WATCHDOG_USEC": "0"},
        {"WATCHDOG_USEC": "soon"},
        {"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "7"},
    ],
)
def test_no_watchdog_unless_asked_for_this_pid(listener, environ):
    notifier = notifier_for(listener, **environ)
    notifier.watchdog(100.0, healthy=True)
    assert received(listener) == []


def test_a_vanished_socket_is_logged_not_raised(tmp_path, caplog):
    Notifier(str(tmp_path / "gone")).ready("up")
    assert "cannot notify systemd" in caplog.text


def test_a_socket_that_is_not_a_path_disables_notification():
    assert not Notifier.from_environ({"NOTIFY_SOCKET": "vsock:2:1234"}, pid=42).enabled


@pytest.mark.parametrize(
    ("snapshot", "text"),
    [
        ({"phase": "starting", "workers": [{"state": "booting"}]}, "starting: 0/2 workers ready"),
        (
            {"phase": "running", "startup_done": True, "workers": [{"state": "ready"}] * 2},
            "2/2 workers ready",
        ),
        (
            {
                "phase": "running",
                "startup_done": True,
                "restarts": {"crash": 2, "hang": 1},
                "workers": [{"state": "ready"}, {"state": "booting"}],
            },
            "1/2 workers ready, 3 restarts",
        ),
        (
            {"phase": "draining", "startup_done": True, "workers": [{"state": "ready"}] * 2},
            "shutting down, still serving: 2/2 workers ready",
        ),
        (
            {"phase": "stopping", "startup_done": True, "workers": [{"state": "draining"}]},
            "stopping: 1 worker finishing their requests",
        ),
    ],
)
def test_status_text_counts_workers(snapshot, text):
    workers = [{"worker": i, "pid": i, **w} for i, w in enumerate(snapshot.pop("workers"))]
    assert status_text(from_wire(Snapshot, {**snapshot, "workers": workers}), wanted=2) == text


@pytest.mark.parametrize(
    ("environ", "fds"),
    [
        ({"LISTEN_PID": "42", "LISTEN_FDS": "2"}, [3, 4]),
        ({"LISTEN_PID": "42", "LISTEN_FDS": "1", "LISTEN_FDNAMES": "app"}, [3]),
        ({"LISTEN_PID": "41", "LISTEN_FDS": "2"}, []),
        ({"LISTEN_FDS": "2"}, []),
        ({"LISTEN_PID": "42", "LISTEN_FDS": "x"}, []),
    ],
)
def test_socket_activation_only_for_this_pid_and_the_variables_are_consumed(environ, fds):
    assert passed_fds(environ, pid=42) == fds
    assert not {"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} & set(environ)


def test_the_supervisor_loop_notifies_from_its_snapshot(listener):
    now = 0.0
    supervisor = Supervisor(Options(), ["unused"], clock=lambda: now)
    supervisor.notifier = notifier_for(listener, WATCHDOG_USEC="2000000")
    supervisor.reload()  # a SIGHUP while starting: READY=1 must still wait for startup
    supervisor.publish()
    supervisor.startup_done = True
    now = 1.0
    supervisor.publish()  # started, and the reload has nothing left to do
    now = Options().liveness_grace + 1.0
    supervisor.publish()  # no healthy worker for too long: /alive fails, the watchdog starves
    assert [m.split("\n")[0] for m in received(listener)] == [
        "RELOADING=1",
        "STATUS=starting: 0/1 workers ready",
        "WATCHDOG=1",
        "READY=1",
        "WATCHDOG=1",
    ]
