"""The example project with a second SQLite database, to migrate too."""

import os

from example.settings import *  # noqa: F403
from example.settings import DATABASES

DATABASES = {
    **DATABASES,
    "other": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["EXAMPLE_OTHER_DB"]},
}
