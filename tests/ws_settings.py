"""The example project with WebSockets: Channels consumers, a Redis channel layer when the tests
started one (else the in-memory layer), and optionally an application that speaks lifespan."""

import os

from example.settings import *  # noqa: F403

ASGI_APPLICATION = "ws_asgi.with_lifespan" if os.environ.get("LIFESPAN") else "ws_asgi.application"

if os.environ.get("TEST_REDIS_URL"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [os.environ["TEST_REDIS_URL"]]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
