from django.apps import AppConfig


class CheckAppConfig(AppConfig):
    name = "checkapp"

    def ready(self) -> None:
        from checkapp import checks  # noqa: F401 - registers the checks
