"""The example project for servers that are not a Django app: without "hurricane" installed."""

from example.settings import *  # noqa: F403

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "hurricane"]  # noqa: F405
