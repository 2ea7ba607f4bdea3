"""The example project with a URLconf that cannot be imported: the workers cannot boot."""

from example.settings import *  # noqa: F403

ROOT_URLCONF = "no_such_module.urls"
