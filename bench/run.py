"""Benchmark Hurricane beside gunicorn, granian, uvicorn, daphne and django-hurricane 1.6.

    python bench/run.py [--rounds 2] [--duration 5] [--servers hurricane,gunicorn,...]
                        [--sections core,memory,respawn,two-workers,heavy,async,websocket]

Sets up one virtualenv per peer under bench/.venvs (pip from PyPI), migrates a
scratch SQLite database, then measures each section with wrk (apt-get install
wrk) over loopback, starting every server afresh for it:

  core         one worker each: throughput and p99 of a trivial, a database and a
               sleeping view; probe latency under full load and while a CPU-bound
               view runs (beside a do-nothing responder's, the machine's floor:
               bench/floor.py); time to first byte of a streaming response;
               resident memory of the process tree; start-up time
  memory       PSS and RSS of the process tree after ~200 requests, 1 and 4 workers
  respawn      kill -9 of a worker until its replacement serves
  two-workers  /hello and the SQLite view with two workers each, wrk -t2 -c32
  heavy        a view computing ~25 ms of Python per request, 8 connections
  async        an async view awaiting asyncio.sleep(0.05) at 256 connections, and
               the sync /hello beside that load
  websocket    echo round trips with 64 clients; worker memory with 1,000 idle sockets

Each wrk measurement follows WARM_UP seconds of the same load (Hurricane's workers
learn where each route's views run best). Rounds interleave the servers of each
section, the order reversed every round, so a noisy neighbour hits them all alike;
each section's table shows medians and Hurricane's ratio to each peer (how many
times better Hurricane is, whichever way the metric points). Not part of the tests.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import core
import memory
import respawn
import throughput
import ws_measure
from loopback import free_port_pair, wait_ok
from process_tree import DidNotStart, stop
from report import Result, machine, table
from section import Context, MeasurementFailed, Section
from servers import BENCH, Server, base_env, ensure_venv, make_servers, migrate

SECTIONS: dict[str, Section] = {
    s.name: s
    for s in (
        core.SECTION,
        memory.SECTION,
        respawn.SECTION,
        throughput.TWO_WORKERS,
        throughput.HEAVY,
        throughput.ASYNC,
        ws_measure.SECTION,
    )
}
ALL_SERVERS = "hurricane,gunicorn,gunicorn-preload,granian,granian-asgi,uvicorn,daphne,django-hurricane"


def main() -> None:
    args = parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    chosen = [SECTIONS[name] for name in args.sections.split(",")]
    names = args.servers.split(",")
    plan = [(section, [n for n in section.servers if n in names]) for section in chosen]
    raise_fd_limit()  # 1,000 idle WebSockets need more than the usual 1,024 descriptors
    with tempfile.TemporaryDirectory(prefix="hurricane-bench-") as scratch:
        env = base_env(Path(scratch))
        servers = make_servers(env, args.threads)
        venvs = {venv for _, taking in plan for n in taking if (venv := servers[n].venv)}
        if ws_measure.SECTION in chosen:
            venvs.add("ws-client")
        for venv in sorted(venvs):
            ensure_venv(venv)
        migrate(env)
        results = {section.name: {n: Result() for n in taking} for section, taking in plan}
        floor_port = free_port_pair()
        floor = subprocess.Popen(
            [sys.executable, str(BENCH / "floor.py"), str(floor_port)], start_new_session=True
        )
        try:
            wait_ok(floor_port, "/", 10.0)
            ctx = Context(args.duration, Path(scratch), floor_port, args.kills)
            for round_no in range(args.rounds):
                for section, taking in plan:
                    order = taking if round_no % 2 == 0 else list(reversed(taking))
                    for name in order:
                        say(f"round {round_no + 1}/{args.rounds}, {section.name}: {name}")
                        measure(section, servers[name], ctx, results[section.name][name])
        finally:
            stop(floor)
    print(machine())
    for section, taking in plan:
        print(f"\n### {section.title}\n")
        print(table(section.rows, results[section.name], taking))


def measure(section: Section, server: Server, ctx: Context, result: Result) -> None:
    """One server, one section, one round; a failure is noted under the table and the run goes on."""
    try:
        section.measure(server, ctx, result)
    except DidNotStart as exc:
        say(str(exc))
        result.note("did not start (its log's tail went to stderr)")
    except (MeasurementFailed, subprocess.SubprocessError) as exc:
        say(f"{server.name}: {exc}")
        result.note(f"a measurement failed: {exc}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--servers", default=ALL_SERVERS, help="comma-separated; each section takes its own")
    parser.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated, from: %(default)s")
    parser.add_argument("--threads", default=None, help="pass --threads N to Hurricane")
    parser.add_argument("--kills", type=int, default=3, help="kill -9 samples per server and round")
    args = parser.parse_args()
    unknown = [s for s in args.sections.split(",") if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    strangers = [s for s in args.servers.split(",") if s not in ALL_SERVERS.split(",")]
    if strangers:
        parser.error(f"unknown server {', '.join(strangers)}; choose from {ALL_SERVERS}")
    return args


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
