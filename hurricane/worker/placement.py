"""Where each route's views run: on the shared view threads, inline on the event loop, or
one request at a time on a thread of their own. Learned per route (method and path).

Views on many threads pay for the GIL. On the example's SQLite view one worker
spends 3.9 ms of CPU per request with 32 threads at 16 connections and 1.7 ms
inline; two CPU-bound views on two threads hand the GIL to each other every switch
interval, each finishes later than if they had run one after the other, and the
handovers keep both cores busy, which slows the probe. A view that waits on I/O
needs the threads, though, and nothing tells the server beforehand which kind a
view is. So every route starts on the shared threads, and its runs there decide:

- inline: runs used little CPU (no more than the interpreter's switch interval)
  and about their fair share of the GIL among the busy threads, which a view
  waiting on a socket or a sleep does not get;
- one at a time: runs computed for longer, and while several ran at once the
  process still used about one core, so they were only taking turns with the
  GIL (work that releases it, such as password hashing, uses more cores and
  stays on the shared threads).

A route keeps its place while it behaves: one inline run slower than SLOW_INLINE,
or a window of runs that mostly waited, sends it back to the shared threads, and
after MAX_RETURNS returns it stays there.

Waiting means waiting on something other than a CPU: time a run was only kept
from one (other processes on the cores, the hypervisor) is left out
(``stopwatch.py``), so a route keeps its place on a crowded machine.
"""

from __future__ import annotations

import logging
import sys
from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum

from hurricane.worker.stopwatch import Run

log = logging.getLogger("hurricane.worker")

QUALIFY = 32  # net qualifying runs before a route goes inline (then 4x, 16x after returns)
QUALIFY_SERIAL = 4  # the same for taking turns (these runs are long, so fewer)
MISS_PENALTY = 2  # a run that does not qualify takes this many off: two in three must
FAIR_SHARE = 0.5  # a CPU-bound run gets at least this part of its fair share of the GIL
ONE_CORE = 1.25  # cores the process may use while runs overlap and still be GIL-bound
SLOW_INLINE = 0.020  # seconds: an inline run this slow held every other request up
WINDOW = 16  # runs in place judged together for how much they waited, at least
WINDOW_WALL = 0.2  # seconds they take together at least: one preemption (a 4 ms tick
# at 250 Hz) must not make a few sub-millisecond runs look as if they mostly waited
CPU_SHARE = 0.75  # runs in place that computed less of their time than this mostly waited
MAX_RETURNS = 3  # a route sent back to the shared threads this often stays there
MAX_ROUTES = 1024  # routes remembered; the least recently seen one is forgotten


class Place(Enum):
    THREADS = "the view threads"
    INLINE = "inline on the event loop"
    SERIAL = "one request at a time on a thread of its own"


@dataclass
class Route:
    place: Place = Place.THREADS
    inline_score: int = 0
    serial_score: int = 0
    returns: int = 0
    cpu: float = 0.0  # the current window of runs in place
    wall: float = 0.0
    active: float = 0.0  # of that, the time they computed or waited (kept from a CPU: neither)
    runs: int = 0


class RoutePlacement:
    """Route statistics, read and written on the event loop thread only."""

    def __init__(self) -> None:
        self.routes: OrderedDict[str, Route] = OrderedDict()
        # Quick: a view holding the loop no longer than a thread may hold the GIL before the
        # interpreter asks it to let another run delays the others no more than a thread would.
        self.quick_cpu = sys.getswitchinterval()

    def counts(self) -> dict[str, int]:
        """Routes remembered in each place other than the shared threads, for the heartbeat."""
        places = [route.place for route in self.routes.values()]
        return {place.name.lower(): places.count(place) for place in (Place.INLINE, Place.SERIAL)}

    def place(self, key: str) -> Place:
        route = self.routes.get(key)
        return Place.THREADS if route is None else route.place

    def ran_on_threads(self, key: str, run: Run) -> None:
        route = self.route(key)
        if route.place is not Place.THREADS or route.returns >= MAX_RETURNS:
            return
        if run.cpu * run.sharing < FAIR_SHARE * run.active:  # it waited on something
            route.inline_score = max(0, route.inline_score - MISS_PENALTY)
            route.serial_score = max(0, route.serial_score - MISS_PENALTY)
            return
        if run.cpu <= self.quick_cpu:
            route.inline_score += 1
            if route.inline_score >= QUALIFY << (2 * route.returns):
                self.move(key, route, Place.INLINE)
            return
        route.inline_score = max(0, route.inline_score - MISS_PENALTY)
        if run.sharing < 3:
            return  # it ran alone: nothing to say about taking turns
        if run.process_cpu <= ONE_CORE * run.wall:
            route.serial_score += 1
            if route.serial_score >= QUALIFY_SERIAL << (2 * route.returns):
                self.move(key, route, Place.SERIAL)
        else:
            route.serial_score = max(0, route.serial_score - MISS_PENALTY)

    def ran_in_place(self, key: str, run: Run) -> None:
        """A run inline or one at a time: it must keep computing rather than waiting."""
        route = self.route(key)
        if route.place is Place.THREADS:
            return
        if route.place is Place.INLINE and run.active > SLOW_INLINE:
            self.send_back(key, route, f"one run took {run.active * 1000:.0f} ms")
            return
        route.cpu += run.cpu
        route.wall += run.wall
        route.active += run.active
        route.runs += 1
        if route.runs < WINDOW or route.wall < WINDOW_WALL:
            return
        if route.cpu < CPU_SHARE * route.active:
            share = route.cpu / route.active
            self.send_back(key, route, f"its last {route.runs} runs computed {share:.0%} of their time")
        clear_window(route)

    def move(self, key: str, route: Route, place: Place) -> None:
        route.place = place
        route.inline_score = route.serial_score = 0
        log.info("%s runs %s now", key, place.value)

    def send_back(self, key: str, route: Route, why: str) -> None:
        route.place = Place.THREADS
        route.inline_score = route.serial_score = 0
        route.returns += 1
        clear_window(route)
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


def clear_window(route: Route) -> None:
    route.cpu = route.wall = route.active = 0.0
    route.runs = 0
