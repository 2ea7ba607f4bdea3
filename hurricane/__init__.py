"""Hurricane: run Django the way Kubernetes expects, with ``manage.py serve``."""
