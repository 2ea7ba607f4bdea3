"""The example project plus views that misbehave on purpose."""

from example.settings import *  # noqa: F403
from example.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "lifecycle_app"]
ROOT_URLCONF = "lifecycle_urls"
