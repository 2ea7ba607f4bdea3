"""WebSockets through Django Channels on the app port, against the real serve and a real client."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import time

import pytest
import websockets
from websockets.client import ClientProtocol
from websockets.frames import Close, Opcode
from websockets.protocol import State
from websockets.uri import parse_uri

from tests.serving import run, serve_env, serving, shadowing, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

WS = ("--settings", "ws_settings")


def url(server, path: str) -> str:
    return f"ws://127.0.0.1:{server.app_port}{path}"


def talk(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 30))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    count = tmp_path_factory.mktemp("ws") / "flood"
    env = serve_env(FLOOD_COUNT=str(count))
    args = (*WS, "--websocket-max-message", "64KiB", "--websocket-ping-interval", "0.5")
    with serving(*args, "--websocket-ping-timeout", "0.5", env=env) as server:
        server.flood_count = count
        yield server


def test_echo_of_text_binary_and_fragmented_messages_with_a_subprotocol(server):
    async def session():
        async with websockets.connect(url(server, "/ws/echo"), subprotocols=["chat.v1", "chat.v2"]) as ws:
            assert ws.subprotocol == "chat.v2"
            await ws.send("hello")
            assert await ws.recv() == "hello"
            await ws.send(b"\x00\xff" * 100)
            assert await ws.recv() == b"\x00\xff" * 100
            await ws.send(["frag", "mented ", "ünïcode"])  # three frames, one message
            assert await ws.recv() == "fragmented ünïcode"
            await asyncio.wait_for(await ws.ping(b"hi"), 5)  # the pong comes back

    talk(session())
    server.wait_for_line(
        r"hurricane\.access\[\d+\]: 127\.0\.0\.1 WEBSOCKET /ws/echo closed 1000 after \d+\.\ds"
    )


def test_a_message_over_the_limit_closes_with_1009(server):
    async def session():
        async with websockets.connect(url(server, "/ws/echo"), max_size=None) as ws:
            await ws.send("x" * (64 * 1024 + 1))
            with pytest.raises(websockets.ConnectionClosedError) as closed:
                await ws.recv()
            return closed.value.rcvd.code

    assert talk(session()) == 1009


def test_the_handshake_is_refused_as_the_application_or_the_protocol_says(server):
    async def refused(path: str, **kwargs) -> tuple[int, bytes]:
        with pytest.raises(websockets.InvalidStatus) as denied:
            async with websockets.connect(url(server, path), **kwargs):
                pass
        return denied.value.response.status_code, bytes(denied.value.response.body)

    assert talk(refused("/ws/deny"))[0] == 403
    assert talk(refused("/ws/broken"))[0] == 500
    assert talk(refused("/ws/deny-with-body")) == (401, b"token required\n")
    with socket.create_connection(("127.0.0.1", server.app_port), timeout=5) as sock:
        sock.sendall(
            b"GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n"
        )
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 426 ") and b"Sec-WebSocket-Version: 13\r\n" in answer
    assert server.get("/ws/echo")[0] == 404  # without an upgrade it is an HTTP request like any


def handshake(port: int, path: str) -> tuple[socket.socket, ClientProtocol]:
    """A WebSocket opened by hand: the test decides when (and whether) it reads."""
    client = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}{path}"))
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    client.send_request(client.connect())
    for data in client.data_to_send():
        sock.sendall(data)
    while client.state is not State.OPEN:
        client.receive_data(sock.recv(4096))
    return sock, client


def test_a_client_that_answers_no_ping_is_closed_with_1011(server):
    sock, client = handshake(server.app_port, "/ws/echo")
    with sock:
        # Nothing is read (so no pong goes back) for a ping interval and a timeout.
        started = time.monotonic()
        wait_until(lambda: time.monotonic() > started + 1.5, 5, "a ping and its timeout")
        data = b""
        sock.settimeout(5)
        while chunk := sock.recv(65536):
            data += chunk
    client.receive_data(data)
    frames = [e for e in client.events_received() if getattr(e, "opcode", None) is Opcode.CLOSE]
    assert frames and Close.parse(frames[0].data).code == 1011


def test_a_client_that_never_reads_does_not_grow_the_worker(server):
    [pid] = server.worker_pids()
    before = rss(pid)
    sock, _ = handshake(server.app_port, "/ws/flood")
    with sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        wait_until(server.flood_count.exists, 10, "the flood to start")

        def settled() -> bool:
            first = int(server.flood_count.read_text() or 0)
            time.sleep(0.5)  # the flood's own pace: it must stop, held back by the client
            return int(server.flood_count.read_text() or 0) == first

        wait_until(settled, 20, "the sender to wait for the client")
        assert rss(pid) - before < 48 * 1024 * 1024
        assert server.get("/hello")[0] == 200  # the worker's loop is free meanwhile


def test_sessions_show_in_metrics_and_the_heartbeat(server):
    async def session():
        async with websockets.connect(url(server, "/ws/echo")) as ws:
            wait_until(
                lambda: server.probe("/alive")[1]["workers"][0]["websockets"] >= 1, 10, "an open WebSocket"
            )
            await ws.send("x")
            await ws.recv()

    talk(session())
    _, _, text = server.request("GET", "/metrics", port=server.probe_port)
    assert re.search(rb'hurricane_websockets_open\{pid="\d+",worker="0"\}', text)
    assert re.search(rb'hurricane_websocket_messages_total\{direction="in"\} [1-9]', text)
    assert re.search(rb'hurricane_websocket_closes_total\{code="1000"\} [1-9]', text)
    assert re.search(rb'hurricane_websocket_upgrades_refused_total\{reason="version"\} [1-9]', text)


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))


def test_sigterm_closes_open_websockets_with_1001_after_the_drain_timeout():
    with serving(*WS, "--websocket-drain-timeout", "1", "--shutdown-delay", "0.5") as server:

        async def session():
            async with websockets.connect(url(server, "/ws/echo")) as ws:
                await ws.send("hi")
                assert await ws.recv() == "hi"
                server.signal(signal.SIGTERM)
                # During the shutdown delay the session still works, and new ones are refused.
                await asyncio.sleep(0.2)  # the supervisor's signal reaching the worker
                await ws.send("still here")
                assert await ws.recv() == "still here"
                with pytest.raises(websockets.InvalidStatus) as refused:
                    async with websockets.connect(url(server, "/ws/echo")):
                        pass
                assert refused.value.response.status_code == 503
                started = time.monotonic()
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await ws.recv()
                return closed.value.rcvd.code, time.monotonic() - started

        code, after = talk(session())
        assert code == 1001 and after < 5
        assert server.wait_exit(30) == 0


def test_lifespan_state_reaches_the_scope_and_a_failed_startup_is_a_boot_failure():
    with serving(*WS, env=serve_env(LIFESPAN="1")) as server:

        async def session():
            async with websockets.connect(url(server, "/ws/echo")) as ws:
                await ws.send("whoami")
                return json.loads(await ws.recv())

        assert talk(session())["state"] == {"greeting": "hello from lifespan"}
    code, output = run(*WS, env=serve_env(LIFESPAN="1", LIFESPAN_FAIL="1"))
    assert code == 4, output
    assert (
        "the application cannot start: the ASGI application's startup failed: the cache is unreachable"
        in output
    )


def test_a_missing_websockets_package_is_one_line_naming_the_extra(tmp_path):
    env = shadowing(tmp_path, "websockets", "raise ImportError('not installed')\n")
    code, output = run(*WS, env=env)
    assert code == 2
    assert output.strip().splitlines() == [
        "CommandError: setting ASGI_APPLICATION 'ws_asgi.application' serves WebSockets, which need the "
        "websockets package: pip install 'hurricane-server[websockets]'"
    ]


def test_a_group_message_reaches_clients_on_another_worker_through_redis(redis_server):
    env = serve_env(TEST_REDIS_URL=redis_server.url())
    with serving(*WS, "--workers", "2", env=env) as server:
        wait_until(lambda: len(server.worker_pids()) == 2, 30, "two workers", lambda: server.output)

        async def session():
            clients = {}
            for _ in range(40):  # the kernel spreads connections over the workers
                ws = await websockets.connect(url(server, "/ws/chat"))
                pid = ws.response.headers["x-worker-pid"]
                if pid in clients:
                    await ws.close()
                else:
                    clients[pid] = ws
                if len(clients) == 2:
                    break
            assert len(clients) == 2, "both connections landed on one worker"
            first, second = clients.values()
            await first.send("hello, room")
            heard = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for ws in (first, second)]
            for ws in clients.values():
                await ws.close()
            return heard

        heard = talk(session())
        assert {h["text"] for h in heard} == {"hello, room"}
        assert len({h["pid"] for h in heard}) == 2  # delivered by both workers


def test_the_examples_chat_room_carries_a_message_from_one_tab_to_another():
    with serving() as server:
        status, page = server.get("/chat")
        assert status == 200 and b"new WebSocket(" in page

        async def two_tabs():
            async with (
                websockets.connect(url(server, "/ws/chat")) as ann,
                websockets.connect(url(server, "/ws/chat")) as bob,
            ):
                await ann.send(json.dumps({"name": "ann", "text": "hi bob"}))
                return [json.loads(await asyncio.wait_for(tab.recv(), 10)) for tab in (bob, ann)]

        assert talk(two_tabs()) == [{"name": "ann", "text": "hi bob"}] * 2
