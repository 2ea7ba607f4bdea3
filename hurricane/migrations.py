"""Wait, before the workers start, until every database is reachable and fully migrated."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.core.management import call_command
from django.db import DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor

log = logging.getLogger("hurricane.supervisor")


def pending() -> int:
    """Unapplied migrations over every database alias; raises DatabaseError if one is down."""
    count = 0
    try:
        for alias in connections:
            connection = connections[alias]
            connection.ensure_connection()
            executor = MigrationExecutor(connection)
            count += len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    finally:
        # A fresh connection at every poll notices a database that came back.
        connections.close_all()
    return count


def wait(apply: bool, report: Callable[[str], None], poll: float) -> bool:
    """Poll until nothing is pending (applying what is, if ``apply``); False if applying fails."""
    last = ""
    while True:
        try:
            count = pending()
        except DatabaseError as exc:
            stage = f"waiting for the database ({type(exc).__name__}: {exc})"
        else:
            if count == 0:
                log.info("no migration is pending")
                return True
            if apply:
                report(f"applying {count} migration(s)")
                if not migrate():
                    return False
                continue
            stage = f"waiting for {count} pending migration(s)"
        if stage != last:
            log.info("%s", stage)
            report(stage)
            last = stage
        time.sleep(poll)


def migrate() -> bool:
    log.info("applying migrations")
    try:
        call_command("migrate", interactive=False)
    except Exception:
        log.exception("applying migrations failed")
        return False
    return True
