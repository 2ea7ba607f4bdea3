"""The example project over ASGI, plus a WebSocket echo at /ws/echo (Django Channels).

Served by the peers for the benchmark's WebSocket rows, and named by
ws_settings.ASGI_APPLICATION for Hurricane's. Plain HTTP goes to Django's ASGI
handler, so /hello and /pid answer as in the other rows.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "plain_settings")
django_http = get_asgi_application()  # sets Django up before Channels' imports touch settings

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402


class Echo(AsyncWebsocketConsumer):
    """Sends every message back as it came (text as text, bytes as bytes)."""

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send(text_data=text_data, bytes_data=bytes_data)


application = ProtocolTypeRouter(
    {"http": django_http, "websocket": URLRouter([path("ws/echo", Echo.as_asgi())])}
)
