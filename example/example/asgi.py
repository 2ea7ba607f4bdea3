"""The example's ASGI application: Django for HTTP (what ASGI servers serve) and, when Django
Channels is installed, the chat room's WebSockets (what Hurricane's workers hand it)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")
django_asgi = get_asgi_application()

try:
    from channels.routing import ProtocolTypeRouter, URLRouter
except ImportError:  # without Channels: HTTP only
    application = django_asgi
else:
    from chat.consumers import ChatConsumer
    from django.urls import path

    websockets = URLRouter([path("ws/chat", ChatConsumer.as_asgi())])
    application = ProtocolTypeRouter({"http": django_asgi, "websocket": websockets})
