"""Which requests run inline on the event loop, and which on a view thread, learned per route.

Views on many threads pay for the GIL: on the example's SQLite view one worker
spends 3.9 ms of CPU per request with 32 threads at 16 connections and 1.7 ms
inline, and the GIL changing hands across cores also slows the probe. A view that
waits on I/O needs the threads, though, and nothing tells the server beforehand
which kind a view is. So each route (method and path) starts on the threads and
moves inline once it has shown, run after run, to be quick and to compute rather
than wait: it used little CPU, and about its fair share of the GIL among the
threads that were busy, which a view waiting on a socket or a sleep does not get.
Inline, a route has to stay quick and CPU-bound; one slow run, or a run of runs
that mostly waited, sends it back to the threads, and after a few such returns it
stays there.
"""

from __future__ import annotations

import logging
import sys
from collections import OrderedDict
from dataclasses import dataclass

log = logging.getLogger("hurricane.worker")

QUALIFY = 32  # net quick, CPU-bound thread runs before a route goes inline
MISS_PENALTY = 2  # a run that is not takes this many off: two in three runs must qualify
FAIR_SHARE = 0.5  # a CPU-bound run gets at least this part of its fair share of the GIL
SLOW_INLINE = 0.020  # seconds: an inline run this slow held every other request up
INLINE_WINDOW = 64  # inline runs judged together for how much they waited
INLINE_CPU_SHARE = 0.75  # inline runs that used less of their time than this mostly waited
MAX_RETURNS = 3  # a route sent back to the threads this often stays there
MAX_ROUTES = 1024  # routes remembered; the least recently seen one is forgotten


@dataclass
class Route:
    score: int = 0  # quick, CPU-bound thread runs, less MISS_PENALTY for each other one
    inline: bool = False
    returns: int = 0  # times sent back to the threads
    cpu: float = 0.0  # the inline runs of the current window
    wall: float = 0.0
    runs: int = 0


class InlinePolicy:
    """Route statistics, read and written on the event loop thread only."""

    def __init__(self) -> None:
        self.routes: OrderedDict[str, Route] = OrderedDict()
        # Quick: a view holding the loop no longer than a thread may hold the GIL before
        # the interpreter asks it to let another run delays the others no more than a thread would.
        self.quick_cpu = sys.getswitchinterval()

    def runs_inline(self, key: str) -> bool:
        route = self.routes.get(key)
        return route is not None and route.inline

    def ran_on_thread(self, key: str, cpu: float, wall: float, sharing: int) -> None:
        """A view thread ran ``key`` using ``cpu`` of ``wall`` seconds while ``sharing``
        threads (the loop's included) were busy."""
        route = self.route(key)
        if route.inline or route.returns >= MAX_RETURNS:
            return
        if cpu <= self.quick_cpu and cpu * sharing >= FAIR_SHARE * wall:
            route.score += 1
            if route.score >= QUALIFY << (2 * route.returns):  # 32, then 128, then 512 runs
                route.inline = True
                log.info("%s is quick and CPU-bound: it runs inline on the event loop now", key)
        else:
            route.score = max(0, route.score - MISS_PENALTY)

    def ran_inline(self, key: str, cpu: float, wall: float) -> None:
        route = self.route(key)
        if not route.inline:
            return
        if wall > SLOW_INLINE:
            self.send_back(key, route, f"one run took {wall * 1000:.0f} ms")
            return
        route.cpu += cpu
        route.wall += wall
        route.runs += 1
        if route.runs < INLINE_WINDOW:
            return
        if route.cpu < INLINE_CPU_SHARE * route.wall:
            share = route.cpu / route.wall
            self.send_back(key, route, f"its last {route.runs} runs computed {share:.0%} of their time")
        route.cpu = route.wall = 0.0
        route.runs = 0

    def send_back(self, key: str, route: Route, why: str) -> None:
        route.inline = False
        route.score = 0
        route.returns += 1
        route.cpu = route.wall = 0.0
        route.runs = 0
        for_good = ", for good" if route.returns >= MAX_RETURNS else ""
        log.info("%s runs on the view threads again%s: %s", key, for_good, why)

    def route(self, key: str) -> Route:
        route = self.routes.get(key)
        if route is None:
            route = self.routes[key] = Route()
            if len(self.routes) > MAX_ROUTES:
                self.routes.popitem(last=False)
        else:
            self.routes.move_to_end(key)
        return route
