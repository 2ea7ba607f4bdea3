"""The example project with a URLconf that the autoreload tests rewrite (in a temporary dir)."""

from example.settings import *  # noqa: F403

ROOT_URLCONF = "reloadable_urls"
