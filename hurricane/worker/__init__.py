"""The worker process: Tornado serving the Django WSGI application on the shared socket."""
