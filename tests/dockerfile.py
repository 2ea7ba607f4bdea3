"""Reading deploy/docker/Dockerfile: enough of its syntax for the tests to check it."""

from __future__ import annotations

import json
import re
from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parent.parent / "deploy" / "docker" / "Dockerfile"


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = DOCKERFILE.read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [
        (parts[0].upper(), parts[1] if len(parts) > 1 else "")
        for parts in (line.strip().split(None, 1) for line in joined.splitlines() if line.strip())
    ]


def instruction(name: str) -> list[str]:
    return [args for instr, args in dockerfile() if instr == name]


def healthcheck_argv() -> list[str]:
    [check] = instruction("HEALTHCHECK")
    options, _, command = check.partition("CMD ")
    assert "--timeout=" in options
    return json.loads(command)  # exec form: no shell in between


def image_env() -> dict[str, str]:
    """The variables the image's ENV instructions set (``KEY=VALUE`` form only)."""
    env = {}
    for args in instruction("ENV"):
        for pair in args.split():
            key, _, value = pair.partition("=")
            env[key] = value
    return env
