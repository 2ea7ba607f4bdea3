"""The example project with static and media directories that the tests create."""

import os

from example.settings import *  # noqa: F403

STATIC_ROOT = os.environ["FILES_STATIC_ROOT"]
MEDIA_ROOT = os.environ["FILES_MEDIA_ROOT"]
MEDIA_URL = "/media/"
STATICFILES_DIRS = [os.environ["FILES_ASSETS"]]
