"""The example project with async views and a middleware that records its thread."""

from example.settings import *  # noqa: F403

ROOT_URLCONF = "async_views"
MIDDLEWARE = [*MIDDLEWARE, "async_views.RecordThread"]  # noqa: F405
