"""``python -m supervisor --spec-fd N``: the supervisor, as ``serve`` execs it.

The launch spec (options, the command lines of the worker and prestart
children, and the kind of worker: HTTP for ``serve``, consumer for ``consume``) comes through an inherited descriptor, never on the command line,
where any local user could read it with ps: a webhook URL may carry a token.
"""

from __future__ import annotations

import argparse
import sys

from supervisor import logs
from supervisor.loop import Supervisor
from supervisor.options import OptionError
from supervisor.protocol import EXIT_USAGE
from supervisor.spec import LaunchSpec, read_descriptor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m supervisor",
        description="Hurricane's supervisor. Normally started by `manage.py serve` or `manage.py consume`.",
    )
    parser.add_argument(
        "--spec-fd", type=int, required=True, help="Descriptor to read the launch spec from (JSON)."
    )
    args = parser.parse_args(argv)
    try:
        spec = LaunchSpec.from_json(read_descriptor(args.spec_fd))
    except (OSError, OptionError, ValueError, TypeError, KeyError) as exc:
        print(f"hurricane: cannot read the launch spec: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logs.configure(spec.options.log_level, spec.options.log_format)
    supervisor = Supervisor(
        spec.options,
        spec.worker_argv,
        prestart_argv=spec.prestart_argv,
        versions=spec.versions,
        template_argv=spec.template_argv,
        kind=spec.kind,
    )
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
