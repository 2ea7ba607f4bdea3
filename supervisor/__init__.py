"""Hurricane's Django-free supervisor: sockets, children, signals and health state."""

# `serve` checks this marker: supervisord's PyPI package installs a top-level
# `supervisor` package too, and running with that one must fail loudly.
HURRICANE_SUPERVISOR = True

__version__ = "0.1.0"
