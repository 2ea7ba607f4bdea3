"""The example project for Hurricane's WebSocket rows: its settings name the Channels app."""

from example.settings import *  # noqa: F403

ASGI_APPLICATION = "ws_app.application"
