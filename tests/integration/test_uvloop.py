"""--loop uvloop: the workers on uvloop's event loop keep every promise they keep on asyncio's.

The rest of the suite serves on asyncio's loop (``serve_env`` sets it); here the
tests that lean hardest on the loop's transports (drains, descriptor limits, slow
and hostile clients, WebSockets, the AMQP client) run again with
``HURRICANE_LOOP=uvloop``, and each server says which loop it runs.
"""

from __future__ import annotations

import asyncio
import json
import signal

import pytest
import websockets

from tests.consuming import consume_env, consuming, unique

# The same tests as on asyncio's loop: collected here again, they run under on_uvloop below.
from tests.integration.test_async import test_an_async_view_reaches_the_database  # noqa: F401
from tests.integration.test_consume import (  # noqa: F401
    PLAIN,
    test_each_of_1000_messages_is_handled_exactly_once,
    test_sigterm_finishes_handlers_in_progress_and_returns_prefetched_messages,
)
from tests.integration.test_hostile import (  # noqa: F401
    test_a_client_that_reads_a_response_too_slowly_is_cut_off_and_frees_its_view_thread,
    test_a_response_left_unread_after_its_connection_closed_is_dropped_in_time,
    test_bodies_sent_a_byte_at_a_time_are_cut_with_408_after_the_grace,
    test_idle_connections_past_a_low_descriptor_limit_leave_room_for_a_new_client,
)
from tests.integration.test_lifecycle import (  # noqa: F401
    test_keep_alive_clients_are_told_to_close_while_draining,
    test_sigterm_under_load_loses_no_request,
)
from tests.integration.test_websockets import (  # noqa: F401
    WS,
    test_sigterm_closes_open_websockets_with_1001_after_the_drain_timeout,
)
from tests.serving import run, serving, shadowing

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

pytest.importorskip("uvloop")


@pytest.fixture(autouse=True)
def on_uvloop(monkeypatch):
    monkeypatch.setenv("HURRICANE_LOOP", "uvloop")


def test_a_worker_says_it_runs_on_uvloop_and_serves_keep_alive_requests():
    with serving() as server:
        server.wait_for_line(r"worker 0: at most \d+ connections, on the uvloop event loop")
        for _ in range(3):
            assert server.get("/hello") == (200, b"Hello, world!\n")
        status, _, body = server.request("POST", "/echo", body=b"x" * 100_000)
        assert status == 200 and json.loads(body)["body_bytes"] == 100_000


def test_a_websocket_echoes_on_uvloop():
    async def session(port: int) -> None:
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/echo") as ws:
            for message in ("hello", b"\x00" * 70_000):
                await ws.send(message)
                assert await ws.recv() == message

    with serving(*WS) as server:
        asyncio.run(asyncio.wait_for(session(server.app_port), 30))


def test_auto_serves_on_asyncio_where_uvloop_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("HURRICANE_LOOP", "auto")
    with serving(env=shadowing(tmp_path, "uvloop", "raise ImportError('not installed')\n")) as server:
        server.wait_for_line(r"worker 0: at most \d+ connections, on the asyncio event loop")
        assert server.get("/hello")[0] == 200


def test_uvloop_asked_for_but_missing_is_one_line_naming_the_extra(tmp_path):
    env = shadowing(tmp_path, "uvloop", "raise ImportError('not installed')\n")
    code, output = run("--loop", "uvloop", env=env)
    assert code == 2
    assert output.strip().splitlines() == [
        'CommandError: option --loop: "uvloop" from the options needs the uvloop package: '
        "pip install 'hurricane-server[uvloop]'"
    ]


def test_a_consumer_says_it_runs_on_uvloop(rabbitmq, mq, record):
    queue = mq.queue(unique("loop"))
    args = (PLAIN, "--queue", queue, "--amqp-url", rabbitmq.url)
    with consuming(*args, env=consume_env(record.path)) as c:
        c.wait_for_line(r"consuming .* the uvloop event loop\)")
        c.signal(signal.SIGTERM)
        assert c.wait_exit(30) == 0
