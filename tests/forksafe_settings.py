"""The example project plus an application whose import-time code is not fork-safe."""

from example.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "forksafe_app"]  # noqa: F405
ROOT_URLCONF = "forksafe_views"
