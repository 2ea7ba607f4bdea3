"""The ASGI application of tests/ws_settings.py: Channels' routers, as a project would have them."""

import os

from django.core.asgi import get_asgi_application

django_asgi = get_asgi_application()

import ws_consumers  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

websockets = URLRouter(
    [
        path("ws/echo", ws_consumers.Echo.as_asgi()),
        path("ws/deny", ws_consumers.Deny.as_asgi()),
        path("ws/broken", ws_consumers.Broken.as_asgi()),
        path("ws/flood", ws_consumers.Flood.as_asgi()),
        path("ws/chat", ws_consumers.Chat.as_asgi()),
        path("ws/deny-with-body", ws_consumers.deny_with_body),
    ]
)
application = ProtocolTypeRouter({"http": django_asgi, "websocket": websockets})


async def with_lifespan(scope, receive, send):
    """An application that speaks lifespan, and fails its startup when told to."""
    if scope["type"] != "lifespan":
        return await application(scope, receive, send)
    message = await receive()
    assert message["type"] == "lifespan.startup"
    if os.environ.get("LIFESPAN_FAIL"):
        await send({"type": "lifespan.startup.failed", "message": "the cache is unreachable"})
        return
    scope["state"]["greeting"] = "hello from lifespan"
    await send({"type": "lifespan.startup.complete"})
    message = await receive()
    await send({"type": "lifespan.shutdown.complete"})
