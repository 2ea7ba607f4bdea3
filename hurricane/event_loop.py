"""The event loop a worker runs on (--loop): uvloop's, or the standard library's.

Nothing in the workers depends on which: they use the loop through asyncio's
public interface only (and ``inline.py`` hides it through the two functions
every loop implementation publishes itself with), so uvloop is purely a matter
of speed. The supervisor and the probe always run asyncio's loop: neither is on a
request's path, and they must start without the extra.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from hurricane.debugging import importable
from supervisor.options import Options

T = TypeVar("T")


def chosen(options: Options) -> str:
    """``asyncio`` or ``uvloop``: what ``--loop`` asks for, ``auto`` resolved."""
    if options.loop == "auto":
        return "uvloop" if importable("uvloop") else "asyncio"
    return options.loop


def run(main: Coroutine[Any, Any, T], options: Options) -> T:
    """Run ``main`` to completion on a new loop of the chosen kind (``asyncio.run`` alike)."""
    if chosen(options) == "uvloop":
        import uvloop

        return uvloop.run(main, debug=options.debug)
    return asyncio.run(main, debug=options.debug)
