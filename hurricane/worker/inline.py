"""Running application code inline, on the event loop's thread, as the plain synchronous
caller it is.

Django refuses database work from a thread whose event loop is running
(``SynchronousOnlyOperation``), and asgiref's ``async_to_sync`` refuses to start
in one. A view placed inline runs between two steps of the loop and cannot await
anything, so for the length of the call the thread is told it has no running loop.

``asyncio._get_running_loop`` and ``_set_running_loop`` are the functions event
loops themselves use to publish the running loop (they are listed in
``asyncio.events.__all__`` for loop implementations); there is no other way to
hide it. They are used here and nowhere else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def off_loop(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``call(*args, **kwargs)`` with the running loop hidden from it."""
    loop = asyncio._get_running_loop()
    asyncio._set_running_loop(None)
    try:
        return call(*args, **kwargs)
    finally:
        asyncio._set_running_loop(loop)
