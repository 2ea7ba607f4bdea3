"""The example project with a URLconf that fails at import: a boot failure to read about."""

from example.settings import *  # noqa: F403

ROOT_URLCONF = "payment_urls"
