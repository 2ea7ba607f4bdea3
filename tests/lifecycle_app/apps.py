import os

from django.apps import AppConfig


class LifecycleAppConfig(AppConfig):
    name = "lifecycle_app"

    def ready(self) -> None:
        # A crash loop on demand: while this file exists, every worker dies while booting.
        marker = os.environ.get("LIFECYCLE_CRASH_FILE")
        if marker and os.path.exists(marker):
            os._exit(70)
