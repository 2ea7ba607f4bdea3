"""An application that does, while loading, what is not fork-safe: a thread, a socket, a database
connection, a seeded random generator. The worker template must cope with each."""

import random
import socket
import threading
import time

from django.apps import AppConfig

state: dict[str, object] = {}


class ForkSafeConfig(AppConfig):
    name = "forksafe_app"

    def ready(self) -> None:
        from notes.models import Note

        thread = threading.Thread(target=lambda: time.sleep(3600), name="import-time-poller", daemon=True)
        thread.start()
        state["thread"] = thread
        state["socket"] = socket.socketpair()
        state["notes"] = Note.objects.count()  # opens a database connection while loading
        random.seed(1234)  # every worker must still draw its own numbers
