"""The example project plus ``checkapp``, whose probe checks a test can steer."""

from example.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "checkapp"]  # noqa: F405
