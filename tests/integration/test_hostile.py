"""Hostile clients and exhausted resources: the server keeps serving what it can."""

from __future__ import annotations

import re
import socket
import time

import pytest

from tests.serving import serving, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def connections(server) -> int:
    return server.probe("/alive")[1]["workers"][0]["connections"]


def test_idle_connections_past_a_low_descriptor_limit_leave_room_for_a_new_client():
    with serving(prefix=("prlimit", "--nofile=256:256", "--")) as server:
        assert "file descriptor limit 256\n" in server.output
        cap = int(server.wait_for_line(r"at most (\d+) connections").group(1))
        assert cap < 256 - 64
        idle = []
        try:
            for _ in range(400):  # more than the worker may hold, more than its descriptors
                idle.append(socket.create_connection(("127.0.0.1", server.app_port), timeout=5))
            seen: list[int] = []
            wait_until(
                lambda: seen.append(connections(server)) or seen[-1] == cap,
                20,
                f"{cap} connections held",
                lambda: f"connections seen: {sorted(set(seen))}\n{server.output}",
            )
            assert server.get("/hello", timeout=10) == (200, b"Hello, world!\n")
            assert server.probe("/ready")[0] == 200
            assert connections(server) <= cap
        finally:
            for sock in idle:
                sock.close()
    assert "Too many open files" not in server.output
    assert not re.search(r"Traceback|ERROR", server.output)


def test_bodies_sent_a_byte_at_a_time_are_cut_with_408_after_the_grace():
    """R.U.D.Y.: 200 clients each send a body one byte every half second."""
    with serving() as server:
        clients = []
        for _ in range(200):
            sock = socket.create_connection(("127.0.0.1", server.app_port), timeout=5)
            sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\n")
            sock.setblocking(False)
            clients.append(sock)
        started = time.monotonic()
        cut: dict[socket.socket, float] = {}
        answers: dict[socket.socket, bytes] = {}
        try:
            while len(cut) < len(clients) and time.monotonic() < started + 20:
                for sock in clients:
                    if sock not in cut:
                        try:
                            sock.send(b"x")
                            answers[sock] = answers.get(sock, b"") + sock.recv(4096)
                        except BlockingIOError:
                            pass
                        except OSError:
                            cut[sock] = time.monotonic() - started
                        if answers.get(sock):
                            cut.setdefault(sock, time.monotonic() - started)
                # The attack's own pace: a byte every half second from each client.
                assert server.get("/hello", timeout=5)[0] == 200
                time.sleep(0.5)
        finally:
            for sock in clients:
                sock.close()
    assert len(cut) == len(clients), f"{len(clients) - len(cut)} slow bodies were never cut"
    assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers.values() if a)
    assert sum(1 for a in answers.values() if a) > len(clients) // 2
    times = sorted(cut.values())
    assert times[0] > 4.5 and times[-1] < 8.0, f"cut after {times[0]:.1f}..{times[-1]:.1f}s"


def test_a_response_left_unread_after_its_connection_closed_is_dropped_in_time():
    """Connection: close with 8 MiB in one write that the client never reads: the buffered
    rest must not stay in the worker until the client goes."""
    with serving("--settings", "http_settings", "--read-timeout", "2") as server:
        clients = []
        try:
            for _ in range(4):
                sock = socket.create_connection(("127.0.0.1", server.app_port), timeout=10)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.sendall(b"GET /big?mib=8 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                clients.append(sock)
            wait_until(
                lambda: connections(server) == 4, 10, "the four connections held", lambda: server.output
            )
            wait_until(
                lambda: connections(server) == 0, 20, "the unread responses dropped", lambda: server.output
            )
        finally:
            for sock in clients:
                sock.close()
    assert re.search(r"cut off 127\.0\.0\.1: it took \d+ bytes of the response in", server.output)


def test_a_client_that_reads_a_response_too_slowly_is_cut_off_and_frees_its_view_thread():
    with serving("--settings", "http_settings", "--threads", "2") as server:
        sock = socket.create_connection(("127.0.0.1", server.app_port), timeout=10)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /big-stream?mib=64 HTTP/1.1\r\nHost: x\r\n\r\n")
        started = time.monotonic()
        cut_after = None
        try:
            while time.monotonic() < started + 30 and cut_after is None:
                sock.recv(100)  # 200 bytes a second: below the minimum rate
                if "cut off 127.0.0.1" in server.output:
                    cut_after = time.monotonic() - started
                time.sleep(0.5)  # the slow reader's pace
        except ConnectionResetError:
            cut_after = time.monotonic() - started
        finally:
            sock.close()
        wait_until(
            lambda: server.probe("/alive")[1]["workers"][0]["in_flight"] == 0, 10, "the view thread freed"
        )
    assert cut_after is not None and cut_after < 9, f"not cut within {time.monotonic() - started:.1f}s"
    assert re.search(r"cut off 127\.0\.0\.1: it took \d+ bytes of the response in [5-8]\.\ds", server.output)
    assert "GET /big-stream?mib=64 499" in server.output
