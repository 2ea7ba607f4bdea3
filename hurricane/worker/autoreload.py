"""``--autoreload`` and ``--static-watch``, in worker 0: watch files, ask the supervisor to reload.

Django's own reloader (``StatReloader``) finds the files: every loaded module,
plus what apps register through ``autoreload_started`` (templates, translations).
On a change the worker does not exit: it tells the supervisor, which starts
replacements with the new code and retires the old workers only once a
replacement is ready. An edit that does not import leaves the old workers
serving, and the next edit is the next attempt: no restart loop.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from django.core.management import call_command
from django.utils import autoreload

from supervisor import protocol
from supervisor.child import ParentPipe
from supervisor.options import Options

log = logging.getLogger("hurricane.worker")


class Watcher(autoreload.StatReloader):
    """Django's StatReloader, but a change calls back instead of exiting with code 3."""

    def __init__(self, on_code: Callable[[Path], None], static_roots: list[Path]) -> None:
        super().__init__()
        self.on_code = on_code
        self.static_roots = static_roots
        for root in static_roots:
            self.watch_dir(root, "**/*")

    def tick(self) -> Iterator[None]:
        ticker = super().tick()
        next(ticker)  # the first pass only records every file's modification time
        extra = f" and static files in {len(self.static_roots)} dir(s)" if self.static_roots else ""
        log.info("watching %d files for code changes%s", len(set(self.watched_files())), extra)
        yield
        yield from ticker

    def notify_file_changed(self, path: str | os.PathLike[str]) -> None:
        path = Path(path)
        if any(path.is_relative_to(root) for root in self.static_roots):
            collect_static(path)
            return
        results = autoreload.file_changed.send(sender=self, file_path=path)
        if not any(handled for _, handled in results):  # e.g. a template: no reload needed
            self.on_code(path)


def collect_static(path: Path) -> None:
    log.info("%s changed: running collectstatic", path)
    started = time.monotonic()
    try:
        call_command("collectstatic", interactive=False, verbosity=0)
    except Exception as exc:  # a broken storage must not stop the watcher
        log.error("collectstatic failed: %s: %s", type(exc).__name__, exc)
        return
    log.info("collectstatic finished in %.2fs", time.monotonic() - started)


def request_reload(parent: ParentPipe, path: Path) -> None:
    """Tell the supervisor, from the watcher thread: one line below PIPE_BUF is written whole."""
    log.info("%s changed: asking for a reload", path)
    if not parent.send(protocol.ReloadRequest(str(path)[:1000], os.getpid())):
        log.warning("reload request dropped: the supervisor is not reading")


def start(options: Options, parent: ParentPipe) -> None:
    roots = [Path(p).resolve() for p in options.static_watch]
    for root in roots:
        if not root.is_dir():
            log.error("--static-watch %s is not a directory", root)
    watcher = Watcher(lambda path: request_reload(parent, path), [r for r in roots if r.is_dir()])
    thread = threading.Thread(
        target=watcher.run, args=(threading.main_thread(),), name="hurricane-autoreload", daemon=True
    )
    thread.start()
