"""The example project on a real PostgreSQL server, the one tests/services.py started."""

import os

from example.settings import *  # noqa: F403

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ["TEST_PG_NAME"],
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": os.environ["TEST_PG_PORT"],
        # A server that is down fails a connection at once; one that hangs, within this.
        "OPTIONS": {"connect_timeout": 3},
        "CONN_MAX_AGE": int(os.environ.get("TEST_PG_CONN_MAX_AGE", "0")),
    }
}
