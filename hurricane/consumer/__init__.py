"""The consumer worker: ``manage.py consume``'s worker kind, under the same supervisor.

One process per ``--workers`` slot, started as ``python -m hurricane.consumer``.
It keeps a connection to the broker (``broker.py``, pika on the worker's asyncio
loop), reconnecting in the background (``session.py``); hands each delivery to
the handler, at most ``--concurrency`` at once, and settles it once the handler
has finished (``dispatch.py``, ``runners.py``, ``handlers.py``); and beats like an
HTTP worker, with its broker state and message counts (``stats.py``).
docs/architecture.md describes the whole.
"""
