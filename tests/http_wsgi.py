"""The example project's application, checked against PEP 3333 on every request."""

import wsgiref.validate

from django.core.wsgi import get_wsgi_application

application = wsgiref.validate.validator(get_wsgi_application())
