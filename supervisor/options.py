"""The one options object, and the pure function that builds it.

Every option is one dataclass field whose metadata carries its parser and help.
``resolve()`` merges four sources, highest first: command line, Django settings
``HURRICANE_<NAME>``, environment ``HURRICANE_<NAME>``, default.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import re
import shlex
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

Parser = Callable[[Any], Any]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
}
_DURATION_UNITS = {"": 1.0, "s": 1.0, "ms": 0.001, "m": 60.0, "min": 60.0, "h": 3600.0}


def flag_name(name: str) -> str:
    """The command-line flag of an option or alias: ``max_body_size`` is ``--max-body-size``."""
    return "--" + name.replace("_", "-")


class OptionError(ValueError):
    """An option value that cannot be used; the message names option, value and source.

    A secret (a password, a URL's credentials) is masked here, so no error shows it.
    ``value=None``: the option is missing, and ``problem`` says what to give.
    """

    def __init__(self, name: str, value: Any, source: str, problem: str) -> None:
        spec = FIELDS.get(name)
        mask = spec.metadata["mask"] if spec is not None else None
        if mask is not None and value is not None:
            value = mask(value)
        self.name, self.value, self.source, self.problem = name, value, source, problem
        flag = flag_name(name)
        if value is None:
            super().__init__(f"option {flag} {problem}")
            return
        shown = json.dumps(value) if isinstance(value, str) else f"{value}"
        super().__init__(f"option {flag}: {shown} from {source} {problem}")


class _Invalid(ValueError):
    """Raised by a parser; resolve() adds the option name and the source."""


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _Invalid("is not a boolean (use 1/0, true/false, yes/no)")


def parse_int(value: Any, minimum: int = 0) -> int:
    if isinstance(value, bool):
        raise _Invalid("is not a whole number")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise _Invalid("is not a whole number") from None
    if number < minimum:
        raise _Invalid(f"must be at least {minimum}")
    return number


def parse_port(value: Any) -> int:
    try:
        port = int(str(value).strip())
    except ValueError:
        raise _Invalid("is not a port number (0-65535)") from None
    if not 0 <= port <= 65535:
        raise _Invalid("is not a port number (0-65535)")
    return port


def parse_duration(value: Any) -> float:
    """Seconds, as a number or with a unit: ``30``, ``2.5s``, ``500ms``, ``1m``."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-z]*)\s*", str(value).lower())
    if not match or match.group(2) not in _DURATION_UNITS:
        raise _Invalid("is not a duration (seconds, or a number with ms, s, m, h)")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def parse_positive_duration(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise _Invalid("must be more than zero")
    return seconds


def parse_size(value: Any) -> int:
    """Bytes, as a number or with a unit: ``1048576``, ``100MiB``, ``512k``."""
    match = re.fullmatch(r"\s*([0-9]+)\s*([a-z]*)\s*", str(value).lower())
    if not match or match.group(2) not in _SIZE_UNITS:
        raise _Invalid("is not a size (bytes, or a number with KiB, MiB, GiB, k, M, G)")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2)]


def parse_path(value: Any) -> str:
    text = str(value).strip()
    if not text.startswith("/") or " " in text:
        raise _Invalid("is not a URL path (it must start with /)")
    return text


def parse_text(value: Any) -> str:
    text = str(value).strip()
    if not text:
        raise _Invalid("is empty")
    return text


def parse_optional(parse: Parser) -> Parser:
    """Wrap a parser so that 0, "off" and "none" mean "not set"."""

    def parse_or_off(value: Any) -> Any:
        if value is None or str(value).strip().lower() in {"", "0", "off", "none"}:
            return None
        return parse(value)

    return parse_or_off


def parse_log_level(value: Any) -> str:
    level = str(value).strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise _Invalid("is not a log level (DEBUG, INFO, WARNING, ERROR, CRITICAL)")
    return level


def parse_log_format(value: Any) -> str:
    fmt = str(value).strip().lower()
    if fmt not in {"text", "json"}:
        raise _Invalid("is not a log format (text, json)")
    return fmt


LOOPS = ("auto", "asyncio", "uvloop")


def parse_loop(value: Any) -> str:
    loop = str(value).strip().lower()
    if loop not in LOOPS:
        raise _Invalid("is not an event loop (auto, asyncio, uvloop)")
    return loop


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(spec: str) -> tuple[bool, list[Network]]:
    """Whether ``*`` (everyone) is in a --trusted-proxies value, and its networks; ValueError if
    an item is neither an address nor a network."""
    items = [item.strip() for item in spec.split(",") if item.strip()]
    return "*" in items, [ipaddress.ip_network(i, strict=False) for i in items if i != "*"]


def parse_networks(value: Any) -> str:
    """Addresses and CIDR networks, comma-separated, or ``*``: kept as normalised text."""
    try:
        everyone, found = networks(str(value))
    except ValueError:
        raise _Invalid("is not a list of addresses or networks (e.g. 10.0.0.0/8,127.0.0.1)") from None
    return ",".join((["*"] if everyone else []) + [str(n) for n in found])


ACCESS_LOG_FIELDS = (
    "remote",
    "method",
    "target",
    "path",
    "query",
    "protocol",
    "status",
    "bytes",
    "duration_ms",
    "duration_s",
    "host",
    "user_agent",
    "referer",
    "request_id",
    "worker",
)
DEFAULT_ACCESS_LOG_FORMAT = "{remote} {method} {target} {status} {bytes}B {duration_ms:.1f}ms"


def parse_access_log_format(value: Any) -> str:
    """A ``str.format`` string over ACCESS_LOG_FIELDS, checked by formatting sample values."""
    text = str(value)
    sample: dict[str, Any] = {
        name: 0 if name in ("status", "bytes", "worker") else "x" for name in ACCESS_LOG_FIELDS
    }
    sample.update(duration_ms=0.5, duration_s=0.0005)
    try:
        text.format_map(sample)
    except KeyError as exc:
        raise _Invalid(f"names an unknown field {exc} (fields: {', '.join(ACCESS_LOG_FIELDS)})") from None
    except (ValueError, IndexError, TypeError) as exc:
        raise _Invalid(f"is not a format ({exc})") from None
    return text


def parse_shutdown_code(value: Any) -> int:
    code = parse_int(value)
    if code not in (1001, 1012):
        raise _Invalid("is not 1001 (going away) or 1012 (service restart)")
    return code


def parse_url(value: Any) -> str:
    text = str(value).strip()
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", text):
        raise _Invalid("is not an http:// or https:// URL")
    return text


def parse_name(value: Any) -> str:
    """An AMQP queue or exchange name; empty is allowed (it has a meaning of its own)."""
    text = str(value).strip()
    if len(text.encode()) > 255:
        raise _Invalid("is longer than 255 bytes")
    return text


def parse_dotted_path(value: Any) -> str:
    text = str(value).strip()
    if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+", text):
        raise _Invalid("is not a dotted path to a handler (myapp.consumers.handle)")
    return text


EXCHANGE_TYPES = ("topic", "direct", "fanout", "headers")


def parse_exchange_type(value: Any) -> str:
    kind = str(value).strip().lower()
    if kind not in EXCHANGE_TYPES:
        raise _Invalid(f"is not an exchange type ({', '.join(EXCHANGE_TYPES)})")
    return kind


def parse_routing_keys(value: Any) -> tuple[str, ...]:
    """Binding keys: a list in settings, comma-separated in the environment."""
    items = value.split(",") if isinstance(value, str) else list(value)
    keys = tuple(str(item).strip() for item in items)
    if any(len(key.encode()) > 255 for key in keys):
        raise _Invalid("holds a key longer than 255 bytes")
    return keys


def mask_url(value: Any) -> str:
    """A URL with its password replaced by ``***``, for log lines and errors."""
    text = str(value)
    parts = urllib.parse.urlsplit(text)
    if parts.password is None:
        return text
    host = parts.netloc.rpartition("@")[2]
    user = parts.netloc.rpartition("@")[0].partition(":")[0]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def parse_amqp_url(value: Any) -> str:
    text = str(value).strip()
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError:
        raise _Invalid("is not an amqp:// or amqps:// URL (its port is not a number)") from None
    if parts.scheme not in ("amqp", "amqps") or not parts.hostname:
        raise _Invalid("is not an amqp:// or amqps:// URL with a host")
    if port == 0:
        raise _Invalid("names port 0")
    return text


def parse_commands(value: Any) -> tuple[str, ...]:
    """Management commands with their arguments, each one string: ``migrate --noinput``.

    A settings value may be a list; an environment value is one command, or a
    JSON list of commands. django-hurricane's list-of-lists form is accepted too.
    """
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = json.loads(value)
        except ValueError:
            raise _Invalid("is not a JSON list of commands") from None
    items = [value] if isinstance(value, str) else list(value)
    commands = []
    for item in items:
        text = " ".join(item) if isinstance(item, (list, tuple)) else str(item)
        try:
            words = shlex.split(text)
        except ValueError as exc:
            raise _Invalid(f"is not a command line ({exc})") from None
        if not words:
            raise _Invalid("is an empty command")
        commands.append(text.strip())
    return tuple(commands)


def parse_paths(value: Any) -> tuple[str, ...]:
    """One or more filesystem paths: a list in settings, os.pathsep-separated in the environment."""
    items = value.split(os.pathsep) if isinstance(value, str) else list(value)
    paths = tuple(str(item).strip() for item in items if str(item).strip())
    if not paths:
        raise _Invalid("names no path")
    return paths


def option(
    default: Any,
    parse: Parser,
    help: str,
    metavar: str | None = None,
    *,
    group: str,
    repeat: bool = False,
    flag: bool = True,
    commands: tuple[str, ...] = ("serve",),
    default_text: str | None = None,
    positional: bool = False,
    mask: Callable[[Any], str] | None = None,
    legacy: tuple[str, ...] = (),
) -> Any:
    """Declare one option: its default, its parser, its help text and its group in the help.

    ``repeat``: the flag may be given several times (the value is a tuple).
    ``flag=False``: a setting or environment variable only, with no command-line flag.
    ``commands``: the management commands that take it.
    ``default_text``: the default in words, where it is derived from something else.
    ``positional``: also the command's positional argument (consume's HANDLER).
    ``mask``: how to show a secret value in an error (never the secret itself).
    ``legacy``: django-hurricane's setting and environment names for it, without the
    HURRICANE_ prefix, looked up after HURRICANE_<NAME> at the same level.
    """
    # A boolean option is a switch on the command line: given means on.
    switch = isinstance(default, bool)
    meta = {
        "parse": parse,
        "help": help,
        "metavar": metavar,
        "repeat": repeat,
        "flag": flag,
        "switch": switch,
        "group": group,
        "commands": commands,
        "default_text": default_text,
        "positional": positional,
        "mask": mask,
        "legacy": legacy,
    }
    return field(default=default, metadata=meta)


MiB = 1024 * 1024
SERVE = ("serve",)
CONSUME = ("consume",)
BOTH = ("serve", "consume")

# The groups of the help and of docs/options.md, in order.
SERVING = "Serving"
PROBES = "Probes"
PRESTART = "Before the workers start"
LIFECYCLE = "Worker lifecycle"
DEVELOPMENT = "Development"
WEBSOCKETS = "WebSockets"
CONSUMING = "Consuming"
GROUPS = (SERVING, WEBSOCKETS, PROBES, PRESTART, LIFECYCLE, DEVELOPMENT, CONSUMING)


@dataclass(frozen=True, slots=True)
class Options:
    """Everything `serve` and `consume` can be told, resolved and validated."""

    # -- Serving -------------------------------------------------------------------------
    host: str = option("0.0.0.0", parse_text, "Address to listen on.", "ADDR", commands=BOTH, group=SERVING)
    port: int = option(8000, parse_port, "Port of the application.", "PORT", group=SERVING)
    workers: int = option(
        1,
        lambda v: parse_int(v, 1),
        "Worker processes; for consume, consumer processes. (django-hurricane's serve used "
        "--workers for threads; see --threads.)",
        "N",
        commands=BOTH,
        group=SERVING,
    )
    threads: int = option(
        128,
        lambda v: parse_int(v, 0),
        "Threads per worker that run views, started as needed; 0 runs views on the event loop, "
        "one at a time.",
        "N",
        group=SERVING,
    )
    loop: str = option(
        "auto",
        parse_loop,
        "The workers' event loop: uvloop (the [uvloop] extra), asyncio's own, or auto: uvloop "
        "when it is installed.",
        "LOOP",
        commands=BOTH,
        group=SERVING,
    )
    db_connections_kept: int = option(
        8,
        lambda v: parse_int(v, 0),
        "Database connections a worker keeps open between requests (with CONN_MAX_AGE), at most "
        "one per view thread; other threads close theirs after each request.",
        "N",
        group=SERVING,
    )
    no_adaptive_views: bool = option(
        False,
        parse_bool,
        "Run every view on the shared view threads: never move a route inline onto the event "
        "loop, or to one request at a time, however its views have run.",
        group=SERVING,
    )
    max_connections: int | None = option(
        None,
        parse_optional(lambda v: parse_int(v, 1)),
        "Client connections a worker holds at most; at the limit it stops accepting (others take "
        "the connections) and closes its longest-idle ones to make room (default: from the file "
        "descriptor limit, less a reserve).",
        "N",
        group=SERVING,
        default_text="from the file descriptor limit",
    )
    max_websockets: int | None = option(
        None,
        parse_optional(lambda v: parse_int(v, 1)),
        "Open WebSockets a worker holds at most; an upgrade past it is refused with 503 (default: "
        "as many as --max-connections).",
        "N",
        group=WEBSOCKETS,
        default_text="--max-connections",
    )
    websocket_max_message: int = option(
        MiB,
        parse_size,
        "Largest WebSocket message accepted; a larger one closes the WebSocket with 1009, "
        "checked before the frame is read.",
        "BYTES",
        group=WEBSOCKETS,
    )
    websocket_ping_interval: float | None = option(
        20.0,
        parse_optional(parse_positive_duration),
        "Ping each open WebSocket this often (0: never).",
        "SECONDS",
        group=WEBSOCKETS,
    )
    websocket_ping_timeout: float = option(
        20.0,
        parse_positive_duration,
        "A WebSocket whose client does not answer a ping within this long is closed with 1011.",
        "SECONDS",
        group=WEBSOCKETS,
    )
    no_websocket_compression: bool = option(
        False,
        parse_bool,
        "Never compress WebSocket messages (by default permessage-deflate is used when the client "
        "offers it).",
        group=WEBSOCKETS,
    )
    websocket_drain_timeout: float = option(
        10.0,
        parse_duration,
        "At a shutdown or recycle, how long open WebSockets may take to end on their own before "
        "they are closed (within --graceful-timeout).",
        "SECONDS",
        group=WEBSOCKETS,
    )
    websocket_shutdown_code: int = option(
        1001,
        parse_shutdown_code,
        "The close code of WebSockets still open after the drain: 1001 (going away) or 1012 "
        "(service restart: clients reconnect at once).",
        "CODE",
        group=WEBSOCKETS,
    )
    max_body_size: int = option(
        100 * MiB,
        parse_size,
        "Largest request body accepted; larger ones get 413.",
        "BYTES",
        group=SERVING,
    )
    max_buffer_size: int = option(
        100 * MiB,
        parse_size,
        "Largest request body kept in memory; a larger one is spooled to a temporary file.",
        "BYTES",
        group=SERVING,
    )
    keep_alive_timeout: float = option(
        75.0,
        parse_positive_duration,
        "An idle keep-alive connection is closed after this long.",
        "SECONDS",
        group=SERVING,
    )
    read_timeout: float = option(
        30.0,
        parse_positive_duration,
        "A client gets this long to send a request's headers, and to send more of its body or "
        "read more of the response, before it is cut off.",
        "SECONDS",
        group=SERVING,
    )
    min_data_rate: int = option(
        240,
        parse_size,
        "Bytes per second a client must at least send of a request body, or take of a response, "
        "on average once --data-rate-grace has passed; a slower body gets 408, a slower reader is "
        "disconnected (0: no minimum).",
        "BYTES",
        group=SERVING,
    )
    data_rate_grace: float = option(
        5.0,
        parse_duration,
        "How long a request body or a response may move slower than --min-data-rate at first.",
        "SECONDS",
        group=SERVING,
    )
    trusted_proxies: str = option(
        "",
        parse_networks,
        "Comma-separated addresses or CIDR networks (or *) whose X-Forwarded-For and "
        "X-Forwarded-Proto headers are believed.",
        "ADDRS",
        group=SERVING,
    )
    static: bool = option(
        False, parse_bool, "Serve STATIC_ROOT at STATIC_URL from the workers.", group=SERVING
    )
    media: bool = option(False, parse_bool, "Serve MEDIA_ROOT at MEDIA_URL from the workers.", group=SERVING)
    debug: bool = option(
        False,
        parse_bool,
        "asyncio's debug mode in the workers: callbacks that block the event loop over 100 ms are "
        "logged (no effect on Django's DEBUG).",
        commands=BOTH,
        group=SERVING,
    )
    log_level: str = option(
        "INFO", parse_log_level, "Level of Hurricane's own log lines.", "LEVEL", commands=BOTH, group=SERVING
    )
    log_format: str = option(
        "text",
        parse_log_format,
        "Hurricane's log lines as text, or json (one object per line).",
        "FORMAT",
        commands=BOTH,
        group=SERVING,
    )
    access_log_format: str = option(
        DEFAULT_ACCESS_LOG_FORMAT,
        parse_access_log_format,
        "The access log line, with fields in braces: "
        + ", ".join(ACCESS_LOG_FIELDS)
        + " (docs/options.md says what each is).",
        "FORMAT",
        group=SERVING,
    )
    log_probes: bool = option(
        False,
        parse_bool,
        "Log probe and metrics requests on hurricane.probe (also: LOG_PROBES = True).",
        commands=BOTH,
        group=SERVING,
    )

    # -- Probes --------------------------------------------------------------------------
    probe_host: str | None = option(
        None,
        parse_text,
        "Address the probe and metrics port listens on (default: --host): where the kubelet "
        "reaches it, when the application listens on loopback behind a sidecar, or the reverse.",
        "ADDR",
        commands=BOTH,
        group=PROBES,
        default_text="--host",
    )
    probe_port: int | None = option(
        None,
        parse_port,
        "Port of the probes and metrics (default: --port + 1, which is 8001 for consume).",
        "PORT",
        commands=BOTH,
        group=PROBES,
        default_text="--port + 1",
    )
    liveness_probe: str = option(
        "/alive", parse_path, "Path of the liveness probe.", "PATH", commands=BOTH, group=PROBES
    )
    readiness_probe: str = option(
        "/ready", parse_path, "Path of the readiness probe.", "PATH", commands=BOTH, group=PROBES
    )
    startup_probe: str = option(
        "/startup", parse_path, "Path of the startup probe.", "PATH", commands=BOTH, group=PROBES
    )
    no_probe: bool = option(False, parse_bool, "Do not start the probe server.", commands=BOTH, group=PROBES)
    metrics: str = option(
        "/metrics",
        parse_path,
        "Path of the Prometheus metrics on the probe port.",
        "PATH",
        commands=BOTH,
        group=PROBES,
    )
    no_metrics: bool = option(False, parse_bool, "Do not serve metrics.", commands=BOTH, group=PROBES)
    req_queue_len: int = option(
        10,
        lambda v: parse_int(v, 1),
        "Requests waiting for a thread at which a worker stops counting as ready.",
        "N",
        group=PROBES,
    )
    check_interval: float = option(
        10.0,
        parse_positive_duration,
        "Seconds between runs of the Django health checks.",
        "SECONDS",
        commands=BOTH,
        group=PROBES,
    )
    check_timeout: float = option(
        5.0,
        parse_positive_duration,
        "A health check running longer than this has failed.",
        "SECONDS",
        commands=BOTH,
        group=PROBES,
    )
    liveness_grace: float = option(
        60.0,
        parse_duration,
        "Liveness fails only when no worker has been healthy for this long.",
        "SECONDS",
        commands=BOTH,
        group=PROBES,
    )
    webhook_url: str | None = option(
        None,
        parse_url,
        "POST a JSON webhook here when startup succeeds or fails and when liveness or readiness changes.",
        "URL",
        commands=BOTH,
        group=PROBES,
    )
    version: str | None = option(
        None,
        parse_text,
        "The application's version, sent with webhooks.",
        flag=False,
        commands=BOTH,
        group=PROBES,
    )

    # -- Before the workers start --------------------------------------------------------
    command: tuple[str, ...] = option(
        (),
        parse_commands,
        "Management command to run once before the workers start, quoted with its arguments: "
        '--command "migrate --noinput" (repeatable; run in order; a failure stops serve).',
        "COMMAND",
        repeat=True,
        group=PRESTART,
    )
    check_migrations: bool = option(
        False,
        parse_bool,
        "Before the workers start, wait until the database is reachable and no migration is pending.",
        group=PRESTART,
    )
    check_migrations_apply: bool = option(
        False,
        parse_bool,
        "Like --check-migrations, but apply pending migrations.",
        group=PRESTART,
    )

    # -- Worker lifecycle ----------------------------------------------------------------
    no_preload: bool = option(
        False,
        parse_bool,
        "Start every worker as a fresh interpreter that imports the application itself, instead of "
        "forking it from a template that loaded the application once (for projects whose "
        "import-time code cannot be forked: threads, connections, or state it must not share).",
        group=LIFECYCLE,
    )
    heartbeat_interval: float = option(
        1.0,
        parse_positive_duration,
        "Seconds between a worker's heartbeats.",
        "SECONDS",
        commands=BOTH,
        group=LIFECYCLE,
    )
    heartbeat_timeout: float = option(
        10.0,
        parse_positive_duration,
        "A ready worker silent this long is hung: its stacks are logged and it is replaced.",
        "SECONDS",
        commands=BOTH,
        group=LIFECYCLE,
    )
    startup_timeout: float = option(
        60.0,
        parse_positive_duration,
        "A worker still booting after this long is replaced.",
        "SECONDS",
        commands=BOTH,
        group=LIFECYCLE,
    )
    shutdown_delay: float | None = option(
        None,
        parse_duration,
        "After SIGTERM, keep serving this long with readiness failing, so the pod leaves the "
        "load balancer first (default: 5 under Kubernetes, else 0).",
        "SECONDS",
        group=LIFECYCLE,
        default_text="5s under Kubernetes, else 0",
    )
    graceful_timeout: float = option(
        30.0,
        parse_duration,
        "When stopping, how long in-flight requests (after the shutdown delay), or running message "
        "handlers, may take.",
        "SECONDS",
        commands=BOTH,
        group=LIFECYCLE,
    )
    max_requests: int | None = option(
        None,
        parse_optional(lambda v: parse_int(v, 1)),
        "Recycle a worker after this many requests (off by default).",
        "N",
        group=LIFECYCLE,
    )
    max_requests_jitter: int = option(
        0,
        parse_int,
        "Add up to this many requests to --max-requests, per worker, so workers do not recycle all at once.",
        "N",
        group=LIFECYCLE,
    )
    max_memory: int | None = option(
        None,
        parse_optional(lambda v: parse_int(v, 1)),
        "Recycle a worker whose resident memory stays above this many MiB for three "
        "heartbeats in a row (off by default).",
        "MIB",
        commands=BOTH,
        group=LIFECYCLE,
    )
    max_worker_age: float | None = option(
        None,
        parse_optional(parse_positive_duration),
        "Recycle a worker after it has run this long (off by default).",
        "SECONDS",
        commands=BOTH,
        group=LIFECYCLE,
    )
    max_worker_age_jitter: float = option(
        0.0,
        parse_duration,
        "Add up to this much to --max-worker-age, per worker.",
        "SECONDS",
        commands=BOTH,
        group=LIFECYCLE,
    )
    request_timeout: float | None = option(
        None,
        parse_optional(parse_positive_duration),
        "A request running longer than this makes its worker count as hung: a replacement "
        "starts, the other requests finish, then the worker is killed (off by default).",
        "SECONDS",
        group=LIFECYCLE,
    )

    # -- Development ---------------------------------------------------------------------
    autoreload: bool = option(
        False,
        parse_bool,
        "Restart the workers when code changes (development; the probes stay up).",
        commands=BOTH,
        group=DEVELOPMENT,
    )
    static_watch: tuple[str, ...] = option(
        (),
        parse_paths,
        "With --autoreload: run collectstatic when files under PATH change (repeatable).",
        "PATH",
        repeat=True,
        group=DEVELOPMENT,
    )
    debugger: bool = option(
        False,
        parse_bool,
        "Listen for a debugger (debugpy, Debug Adapter Protocol) in worker 0.",
        group=DEVELOPMENT,
    )
    debugger_port: int = option(5678, parse_port, "Port of --debugger.", "PORT", group=DEVELOPMENT)
    pycharm_host: str | None = option(
        None,
        parse_text,
        "Connect worker 0 to the PyCharm debug server on this host (pydevd).",
        "HOST",
        group=DEVELOPMENT,
    )
    pycharm_port: int | None = option(
        None, parse_port, "Port of the PyCharm debug server.", "PORT", group=DEVELOPMENT
    )

    # -- Consuming (manage.py consume) ------------------------------------------------------
    handler: str | None = option(
        None,
        parse_dotted_path,
        "Dotted path of the message handler: a function handle(message), plain or async, or a "
        "django-hurricane TopicHandler subclass.",
        "HANDLER",
        group=CONSUMING,
        commands=CONSUME,
        positional=True,
    )
    queue: str = option(
        "",
        parse_name,
        "Queue to consume (declared and bound unless --no-declare). Empty: a server-named queue "
        "of each worker's own, deleted when it disconnects.",
        "NAME",
        group=CONSUMING,
        commands=CONSUME,
    )
    exchange: str = option(
        "",
        parse_name,
        "Exchange to declare and bind the queue to. Empty: the default exchange, which routes "
        "each message to the queue its routing key names (nothing is declared or bound).",
        "NAME",
        group=CONSUMING,
        commands=CONSUME,
    )
    exchange_type: str | None = option(
        None,
        parse_exchange_type,
        "Type of --exchange: topic, direct, fanout or headers (default: topic, or the "
        "TopicHandler subclass's EXCHANGE_TYPE).",
        "TYPE",
        group=CONSUMING,
        commands=CONSUME,
    )
    routing_key: tuple[str, ...] = option(
        (),
        parse_routing_keys,
        "Bind the queue to --exchange with this key (repeatable; default: the handler's "
        "get_routing_keys(), else the queue name).",
        "KEY",
        repeat=True,
        group=CONSUMING,
        commands=CONSUME,
    )
    amqp_url: str | None = option(
        None,
        parse_amqp_url,
        "The broker as a URL, amqp:// or amqps://, with credentials, virtual host and query "
        "parameters such as ?heartbeat=30; used instead of --amqp-host, --amqp-port and --amqp-vhost.",
        "URL",
        group=CONSUMING,
        commands=CONSUME,
        mask=mask_url,
    )
    amqp_host: str | None = option(
        None,
        parse_text,
        "Host of the broker (needed unless --amqp-url is given).",
        "HOST",
        group=CONSUMING,
        commands=CONSUME,
        legacy=("AMQP_HOST",),
    )
    amqp_port: int = option(
        5672,
        parse_port,
        "Port of the broker.",
        "PORT",
        group=CONSUMING,
        commands=CONSUME,
        legacy=("AMQP_PORT",),
    )
    amqp_vhost: str = option(
        "/",
        parse_text,
        "Virtual host on the broker.",
        "VHOST",
        group=CONSUMING,
        commands=CONSUME,
        legacy=("AMQP_VHOST",),
    )
    amqp_user: str | None = option(
        None,
        parse_text,
        "User name on the broker when --amqp-url has none (default: guest).",
        flag=False,
        group=CONSUMING,
        commands=CONSUME,
        legacy=("AMQP_USER",),
    )
    amqp_password: str | None = option(
        None,
        str,
        "Password on the broker when --amqp-url has none.",
        flag=False,
        group=CONSUMING,
        commands=CONSUME,
        mask=lambda value: "***",
        legacy=("AMQP_PASSWORD",),
    )
    concurrency: int = option(
        1,
        lambda v: parse_int(v, 1),
        "Messages each consumer worker handles at once: threads for a plain handler, tasks on "
        "the event loop for an async one.",
        "N",
        group=CONSUMING,
        commands=CONSUME,
    )
    prefetch: int | None = option(
        None,
        lambda v: parse_int(v, 1),
        "Messages the broker may hand each consumer worker ahead of its handlers (default: --concurrency).",
        "N",
        group=CONSUMING,
        commands=CONSUME,
    )
    handler_timeout: float | None = option(
        None,
        parse_optional(parse_positive_duration),
        "A handler running longer than this has failed: an async one is cancelled; a plain one "
        "fails liveness and its worker is replaced (off by default).",
        "SECONDS",
        group=CONSUMING,
        commands=CONSUME,
    )
    no_declare: bool = option(
        False,
        parse_bool,
        "Declare and bind nothing: consume an existing --queue as it is (for brokers that grant "
        "no configure rights, durable or quorum queues, dead-letter settings).",
        group=CONSUMING,
        commands=CONSUME,
    )
    reconnect: bool = option(
        False,
        parse_bool,
        "Accepted for django-hurricane's command lines: the consumer always reconnects, in the background.",
        group=CONSUMING,
        commands=CONSUME,
    )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Options:
        names = {f.name for f in dataclasses.fields(cls)}
        # JSON has no tuples: repeatable options come back as lists.
        kept: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in names
        }
        return cls(**kept)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Options:
        return cls.from_dict(json.loads(text))

    @property
    def effective_probe_host(self) -> str:
        return self.probe_host if self.probe_host is not None else self.host

    @property
    def effective_probe_port(self) -> int:
        if self.probe_port is not None:
            return self.probe_port
        return self.port + 1 if self.port else 0


FIELDS: dict[str, dataclasses.Field[Any]] = {f.name: f for f in dataclasses.fields(Options)}


@dataclass(frozen=True, slots=True)
class Alias:
    """Another name for an option: a flag, a setting and an environment variable."""

    name: str
    target: str
    commands: tuple[str, ...] = SERVE
    deprecated_in: tuple[str, ...] = ()  # the commands that warn when it is used
    meaning: str = ""  # its help where the target is not an option of the command

    def help(self, command: str) -> str:
        flag = flag_name(self.target)
        if command in self.deprecated_in:
            return f"Deprecated alias of {flag}."
        if command in FIELDS[self.target].metadata["commands"] or not self.meaning:
            return f"Alias of {flag}."
        return self.meaning


ALIASES = (
    # Hurricane's first release called the liveness probe path --probe.
    Alias("probe", "liveness_probe"),
    # django-hurricane's name for a request count, although it sounds like a duration; its
    # consume took the flag and ignored it. Here a consumer worker counts messages with it.
    Alias(
        "max_lifetime",
        "max_requests",
        commands=BOTH,
        deprecated_in=SERVE,
        meaning="Recycle a consumer worker after it has handled this many messages (off by default).",
    ),
)


def env_name(name: str) -> str:
    return "HURRICANE_" + name.upper()


def shown_default(spec: dataclasses.Field[Any]) -> str | None:
    """An option's default as a person would type it (``100MiB``, ``30s``), if it has one."""
    meta, default = spec.metadata, cast(Any, spec.default)
    if meta["default_text"]:
        return str(meta["default_text"])
    if default in (None, (), "") or isinstance(default, bool):
        return None
    if meta["metavar"] == "BYTES":
        return format_size(int(default))
    if meta["metavar"] == "SECONDS":
        return format_duration(float(default))
    return str(default)


def format_size(size: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


def format_duration(seconds: float) -> str:
    if seconds and seconds < 1:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"


def suggestion(given: str, known: list[str]) -> str | None:
    """The known flag closest to a mistyped one, if one is close."""
    import difflib

    close = difflib.get_close_matches(given.split("=", 1)[0], known, n=1, cutoff=0.6)
    return close[0] if close else None


def takes(command: str, name: str) -> bool:
    """Whether ``command`` has the option or alias ``name``."""
    spec = FIELDS.get(name)
    if spec is not None:
        return command in spec.metadata["commands"]
    return any(a.name == name and command in a.commands for a in ALIASES)


def resolve(
    cli: Mapping[str, Any],
    settings: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    command: str = "serve",
) -> Options:
    """Build Options: cli > settings HURRICANE_<NAME> > env HURRICANE_<NAME> > default.

    ``cli`` maps option names to values, None meaning "not given". Options that
    ``command`` does not take keep their defaults, whatever the settings say (a
    project's HURRICANE_PORT is for serve, not consume). Raises OptionError for the
    first bad value or combination.
    """
    settings = settings or {}
    environ = environ or {}
    values: dict[str, Any] = {}
    for name, spec in FIELDS.items():
        for given, source, raw in _candidates(name, cli, settings, environ, command):
            try:
                values[name] = spec.metadata["parse"](raw)
            except _Invalid as exc:
                raise OptionError(given, raw, source, str(exc)) from None
            break
    if values.get("shutdown_delay") is None:
        # Only an HTTP server has a load balancer to leave before it stops.
        kubernetes = "KUBERNETES_SERVICE_HOST" in environ and command == "serve"
        values["shutdown_delay"] = 5.0 if kubernetes else 0.0
    options = Options(**values)
    validate(options, command)
    return options


def _candidates(
    name: str,
    cli: Mapping[str, Any],
    settings: Mapping[str, Any],
    environ: Mapping[str, str],
    command: str,
) -> Iterator[tuple[str, str, Any]]:
    """(name given, source, raw value) for every value given, highest precedence first.

    At each level the option's own name wins over its aliases, and both over the
    option's django-hurricane names (``AMQP_HOST``).
    """
    names = [n for n in (name, *(a.name for a in ALIASES if a.target == name)) if takes(command, n)]
    if not names:
        return
    legacy = FIELDS[name].metadata["legacy"] if takes(command, name) else ()
    for given in names:
        if cli.get(given) is not None:
            yield given, "the command line", cli[given]
    for level, mapping in (("setting", settings), ("env", environ)):
        for given in names:
            key = env_name(given)
            if mapping.get(key) is not None:
                yield given, f"{level} {key}", mapping[key]
        for key in legacy:
            if mapping.get(key) is not None:
                yield name, f"{level} {key}", mapping[key]


def deprecations(
    cli: Mapping[str, Any], settings: Mapping[str, Any], environ: Mapping[str, str], command: str = "serve"
) -> list[str]:
    """One warning per deprecated alias that was given, naming where and the new name."""
    warnings = []
    for alias in ALIASES:
        if command not in alias.deprecated_in:
            continue
        key = env_name(alias.name)
        for source, given in (
            (flag_name(alias.name), cli.get(alias.name)),
            (f"setting {key}", settings.get(key)),
            (f"env {key}", environ.get(key)),
        ):
            if given is not None:
                target = flag_name(alias.target)
                warnings.append(f"{source} is deprecated: use {target} ({env_name(alias.target)})")
    return warnings


def validate(options: Options, command: str = "serve") -> None:
    """Checks that involve more than one option."""
    same_host = options.effective_probe_host == options.host
    if command == "consume":
        validate_consume(options)
    elif options.port and options.effective_probe_port == options.port and same_host and not options.no_probe:
        raise OptionError("probe_port", options.effective_probe_port, "the options", "is the same as --port")
    probes = {"liveness_probe": options.liveness_probe}
    for name in ("readiness_probe", "startup_probe"):
        path = getattr(options, name)
        taken = next((other for other, used in probes.items() if used == path), None)
        if taken is not None:
            raise OptionError(name, path, "the options", f"is also the path of {flag_name(taken)}")
        probes[name] = path
    if not options.no_metrics and options.metrics in probes.values():
        raise OptionError("metrics", options.metrics, "the options", "is also a probe path")
    if options.pycharm_host and options.pycharm_port is None:
        raise OptionError("pycharm_host", options.pycharm_host, "the options", "needs --pycharm-port")
    if options.heartbeat_timeout <= options.heartbeat_interval:
        raise OptionError(
            "heartbeat_timeout",
            options.heartbeat_timeout,
            "the options",
            "must be longer than --heartbeat-interval",
        )


def validate_consume(options: Options) -> None:
    """What consume needs beyond each option's own value."""
    if options.handler is None:
        raise OptionError(
            "handler",
            None,
            "",
            "is missing: name the handler (python manage.py consume myapp.consumers.handle)",
        )
    if options.amqp_url is None and options.amqp_host is None:
        raise OptionError(
            "amqp_host",
            None,
            "",
            "is missing: give --amqp-host (HURRICANE_AMQP_HOST, AMQP_HOST) or --amqp-url",
        )
    if not options.queue and (options.no_declare or not options.exchange):
        why = "--no-declare consumes an existing queue" if options.no_declare else "there is no --exchange"
        raise OptionError("queue", None, "", f"is missing: {why}, so name the queue to consume")
    if options.prefetch is not None and options.prefetch < options.concurrency:
        raise OptionError(
            "prefetch",
            options.prefetch,
            "the options",
            f"is less than --concurrency {options.concurrency}: handlers would wait for messages",
        )
