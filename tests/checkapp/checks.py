"""One check per probe tag, registered the ways django-hurricane's users do."""

import json
import os
import time

from django.core import checks


def mode(tag: str) -> tuple[str, float]:
    """What the state file says for ``tag``; each call is counted in ``<state>.runs``."""
    try:
        with open(os.environ["CHECKAPP_STATE"] + ".runs", "a") as runs:
            runs.write(f"{tag}\n")
        with open(os.environ["CHECKAPP_STATE"]) as f:
            state = json.load(f)
    except (KeyError, OSError, ValueError):
        return "ok", 0.0
    return state.get(tag, "ok"), float(state.get("hang_s", 3.0))


def verdict(tag: str, number: int) -> list[checks.CheckMessage]:
    what, hang_s = mode(tag)
    hint = f"internal detail of {tag}"
    if what == "raise":
        raise RuntimeError(f"secret {tag} internals")
    if what == "hang":
        time.sleep(hang_s)
        return []
    levels = {"warning": checks.Warning, "error": checks.Error, "critical": checks.Critical}
    if what in levels:
        return [levels[what](f"{tag} is {what}", hint=hint, id=f"checkapp.E00{number}")]
    return []


@checks.register("liveness")
def liveness(app_configs=None, **kwargs):
    return verdict("liveness", 1)


@checks.register("readiness", deploy=True)
def readiness(app_configs=None, **kwargs):
    return verdict("readiness", 2)


def startup(app_configs=None, **kwargs):
    return verdict("startup", 3)


checks.register(startup, "startup")
