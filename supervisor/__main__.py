"""``python -m supervisor``: run the supervisor with options serialised by ``serve``."""

from __future__ import annotations

import argparse
import json
import sys

from supervisor import logs
from supervisor.options import OptionError, Options, resolve
from supervisor.protocol import EXIT_USAGE
from supervisor.supervisor import Supervisor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m supervisor",
        description="Hurricane's supervisor. Normally started by `manage.py serve`.",
    )
    parser.add_argument("--options", help="Options as JSON (written by serve).")
    parser.add_argument("--worker", required=True, help="The worker's command line, as a JSON list.")
    parser.add_argument(
        "--prestart", help="The command line of the child that runs --command, as a JSON list."
    )
    args = parser.parse_args(argv)
    try:
        options = Options.from_json(args.options) if args.options else resolve({})
    except (OptionError, ValueError, TypeError) as exc:
        print(f"hurricane: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logs.configure(options.log_level, options.log_format)
    worker_argv = json.loads(args.worker)
    probe_argv = [sys.executable, "-m", "supervisor.probe"]
    prestart_argv = json.loads(args.prestart) if args.prestart else None
    return Supervisor(options, worker_argv, probe_argv, prestart_argv=prestart_argv).run()


if __name__ == "__main__":
    sys.exit(main())
