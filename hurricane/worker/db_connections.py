"""How many database connections a worker keeps between requests.

Django gives every thread its own connection, and with ``CONN_MAX_AGE`` a thread
keeps it open after its request. A worker has many view threads (they wait on
I/O, so there are many), and would keep one connection each: four workers could
exhaust PostgreSQL's default 100 connections while idle. Here at most
``--db-connections-kept`` threads of a worker keep theirs; any other thread
closes its connections after its request (Django's own pool, ``OPTIONS["pool"]``,
takes them back instead of closing them). While requests run, each still has the
connection it needs.
"""

from __future__ import annotations

import threading


class ConnectionBudget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.holders: set[int] = set()  # threads that keep their connections
        self.lock = threading.Lock()

    def after_request(self) -> None:
        """On the thread that ran a request, once it is done."""
        from django.db import connections

        opened = [c for c in connections.all(initialized_only=True) if c.connection is not None]
        me = threading.get_ident()
        with self.lock:
            if not opened:
                self.holders.discard(me)
                return
            if me in self.holders or len(self.holders) < self.limit:
                self.holders.add(me)
                return
        for connection in opened:
            connection.close()
