"""Wait, before the workers start, until every database is reachable and fully migrated."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.core.management import call_command
from django.db import DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor

log = logging.getLogger("hurricane.supervisor")


def pending() -> dict[str, int]:
    """Unapplied migrations per database alias (only those with some); raises DatabaseError
    if a database is down."""
    counts: dict[str, int] = {}
    try:
        for alias in connections:
            connection = connections[alias]
            connection.ensure_connection()
            executor = MigrationExecutor(connection)
            count = len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
            if count:
                counts[alias] = count
    finally:
        # A fresh connection at every poll notices a database that came back.
        connections.close_all()
    return counts


def wait(apply: bool, report: Callable[[str], None], poll: float) -> bool:
    """Poll until nothing is pending (applying what is, if ``apply``); False if applying fails."""
    last = ""
    while True:
        try:
            counts = pending()
        except DatabaseError as exc:
            stage = f"waiting for the database ({type(exc).__name__}: {exc})"
        else:
            total = sum(counts.values())
            if total == 0:
                log.info("no migration is pending")
                return True
            if apply:
                report(f"applying {total} migration(s)")
                return migrate(counts) and _settled(counts)
            stage = f"waiting for {total} pending migration(s)"
        if stage != last:
            log.info("%s", stage)
            report(stage)
            last = stage
        time.sleep(poll)


def migrate(counts: dict[str, int]) -> bool:
    """Apply the pending migrations of each alias that has some."""
    for alias in counts:
        log.info("applying migrations to database %r", alias)
        try:
            call_command("migrate", database=alias, interactive=False)
        except Exception:
            log.exception("applying migrations to database %r failed", alias)
            return False
    return True


def _settled(before: dict[str, int]) -> bool:
    """After migrating, nothing may be left: a plan that stays pending would loop forever."""
    try:
        left = pending()
    except DatabaseError as exc:
        log.error("the database went away after migrating: %s", exc)
        return False
    if left:
        log.error("migrations still pending after migrate: %s (before: %s)", left, before)
        return False
    return True
