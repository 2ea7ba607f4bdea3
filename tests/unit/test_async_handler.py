"""The async views' handler (Django's async middleware chain with hooks inline) on every
supported Django: run in a fresh interpreter with the example project's settings."""

import json
import subprocess
import sys

import pytest

from tests.serving import EXAMPLE, serve_env

pytestmark = pytest.mark.timeout(60)

SCRIPT = """
import asyncio, io, json, threading
import django
django.setup()
from hurricane.worker.async_views import AsyncViews
from hurricane.worker.inline import off_loop

views = AsyncViews.load(4)
assert views is not None and views.is_async("/a/where") and not views.is_async("/hello")

async def main():
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/a/where", "raw_path": b"/a/where", "query_string": b"",
        "root_path": "", "headers": [(b"host", b"x")], "client": ("127.0.0.1", 1), "server": ("x", 80),
    }
    request, _ = views.handler.create_request(scope, io.BytesIO())
    response = await views.handler.get_response_async(request)
    off_loop(response.close)
    return response.status_code, json.loads(response.content), response["X-Hooks-Thread"]

status, body, hooks = asyncio.run(main())
print(json.dumps({"status": status, "thread": body["thread"], "hooks": hooks, "main": threading.main_thread().name}))
"""


def test_an_async_view_runs_through_the_middleware_with_its_hooks_inline():
    env = serve_env(DJANGO_SETTINGS_MODULE="async_settings", EXAMPLE_DB=":memory:")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["status"] == 200
    assert seen["thread"] == seen["hooks"] == seen["main"]  # the view and the hooks: the loop's thread
