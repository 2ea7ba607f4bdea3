"""The example project with a plain Django LOGGING config for Hurricane, and LOG_PROBES."""

import os

from example.settings import *  # noqa: F403

LOG_PROBES = True

LOGGING = {
    "version": 1,
    "formatters": {"custom": {"format": "custom|%(levelname)s|%(name)s|%(message)s"}},
    "handlers": {
        "file": {
            "class": "logging.FileHandler",
            "filename": os.environ["LOGGING_FILE"],
            "formatter": "custom",
        }
    },
    "loggers": {"hurricane": {"handlers": ["file"], "level": "DEBUG", "propagate": False}},
}
