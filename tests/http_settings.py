"""The example project served through ``wsgiref.validate``, under a script prefix, with test views."""

import warnings
import wsgiref.validate

from example.settings import *  # noqa: F403

ROOT_URLCONF = "http_views"
WSGI_APPLICATION = "http_wsgi.application"
FORCE_SCRIPT_NAME = "/app"

# The validator warns about some violations instead of failing: make them fail the request.
warnings.simplefilter("error", wsgiref.validate.WSGIWarning)
