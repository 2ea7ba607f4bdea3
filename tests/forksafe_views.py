"""What a worker forked from the template sees of the import-time state."""

import os
import random

from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from forksafe_app.apps import state
from notes.models import Note


def fork_state(request: HttpRequest) -> JsonResponse:
    thread = state["thread"]
    return JsonResponse(
        {
            "pid": os.getpid(),
            "random": random.random(),
            "notes": Note.objects.count(),
            "thread_alive": thread.is_alive(),  # type: ignore[attr-defined]
        }
    )


urlpatterns = [path("fork-state", fork_state), path("", include("example.urls"))]
