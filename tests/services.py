"""Private PostgreSQL, Redis and RabbitMQ servers for Hurricane's test suite.

Each service is a class that is also a context manager::

    with PostgresServer() as pg:          # initdb + start, on a free port
        pg.create_database("hurricane")
        with pg.down():                    # simulated outage: fast shutdown ...
            ...                            # ... and the same port/data dir again on exit
    # leaving the block stops the server by PID and removes its directory

and the pytest fixtures at the bottom are thin session-scoped wrappers.

Rules this module keeps (see services.md for the why):

* every server is our own child process, started in its own session, on
  127.0.0.1 and on ports chosen free at set-up, with all its files in one
  temporary directory; nothing is ever looked up or signalled by name;
* every wait has a deadline and notices when the server died meanwhile
  (the error then carries the tail of its log);
* stop = the service's graceful signal to the PID we hold, then SIGKILL after
  a deadline; the children also get a parent-death signal, so a test run that
  is itself killed does not leave servers behind;
* as root, PostgreSQL runs as the OS user ``postgres`` (it refuses root);
  RabbitMQ and Redis run as whoever runs the tests.

Only the standard library is required.  psycopg (3) is used for the
PostgreSQL readiness check and ``create_database`` when installed, else the
``pg_isready`` / ``createdb`` binaries are used.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "Deadline",
    "PostgresServer",
    "RabbitMQServer",
    "RedisServer",
    "ServiceError",
    "ServiceUnavailable",
    "free_ports",
    "rss_bytes",
]

LOCALHOST = "127.0.0.1"
# Keep directories when set: look at logs after a failing run.
KEEP_ENV = "HURRICANE_KEEP_SERVICE_DIRS"


class ServiceError(RuntimeError):
    """A private server could not be set up, started or stopped."""


class ServiceUnavailable(ServiceError):
    """The server's binaries are not installed on this machine."""


# --------------------------------------------------------------------------
# small helpers: deadlines, ports, processes
# --------------------------------------------------------------------------


class Deadline:
    """A point in monotonic time; every wait in this module is bounded by one."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = time.monotonic()
        self.end = self.start + seconds

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.end

    def elapsed(self) -> float:
        return time.monotonic() - self.start


def free_ports(count: int = 1, host: str = LOCALHOST) -> list[int]:
    """`count` distinct TCP ports that were free a moment ago.

    All sockets are held open until every port is chosen, so the ports differ.
    A port can still be taken by someone else before the server binds it; the
    server then fails to start and says so in its log (no silent clash).
    """
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _tcp_accepts(port: int, host: str = LOCALHOST, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def _wait_until(
    check: Callable[[], bool],
    deadline: Deadline,
    what: str,
    *,
    proc: subprocess.Popen | None = None,
    log: Path | None = None,
    interval: float = 0.02,
    max_interval: float = 0.25,
) -> None:
    """Poll `check` until it returns true; fail at the deadline or if `proc` exits."""
    last_error: BaseException | None = None
    while True:
        if proc is not None and proc.poll() is not None:
            raise ServiceError(
                f"{what}: the server exited with code {proc.returncode} while we waited"
                + (f"\n--- {log} ---\n{_tail(log)}" if log else "")
            )
        try:
            if check():
                return
        except Exception as exc:
            last_error = exc
        if deadline.expired():
            raise ServiceError(
                f"{what}: not ready after {deadline.seconds:.0f} s"
                + (f" (last error: {last_error!r})" if last_error else "")
                + (f"\n--- {log} ---\n{_tail(log)}" if log else "")
            )
        time.sleep(min(interval, deadline.remaining()))
        interval = min(interval * 1.5, max_interval)


def _parent_death_signal(sig: int) -> Callable[[], None]:
    """preexec_fn: the child gets `sig` when the thread that spawned it dies.

    Python's subprocess calls preexec_fn after it switched user/group, so the
    setting survives (a credential change would clear it).
    """
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1

    def preexec() -> None:
        libc.prctl(pr_set_pdeathsig, int(sig), 0, 0, 0)

    return preexec


def _spawn(
    argv: list[str],
    *,
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: tuple[int, int] | None = None,
    death_signal: int = signal.SIGTERM,
) -> subprocess.Popen:
    """Start a server as our child, in its own session, output appended to `log`.

    Never stdout=PIPE: nobody would read it, and a full pipe blocks the server.
    A new session keeps a Ctrl-C on the test run from reaching the servers
    before the fixtures' own teardown does.
    """
    kwargs: dict[str, Any] = {}
    if user is not None:
        kwargs.update(user=user[0], group=user[1], extra_groups=[])
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            # Only prctl() runs there: the servers must die with a test run that is killed.
            preexec_fn=_parent_death_signal(death_signal),  # noqa: PLW1509
            **kwargs,
        )


class _Seen:
    """A process we saw, identified by PID *and* start time, so a recycled PID is never hit."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.started = _stat_field(pid, 19)  # field 22 of /proc/PID/stat: start time

    def alive(self) -> bool:
        if self.started is None or _stat_field(self.pid, 19) != self.started:
            return False
        return _stat_field(self.pid, 0) != "Z"  # a zombie has exited already

    def signal(self, sig: int) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def finish(self, sig: int, timeout: float) -> None:
        """Send `sig`, wait up to `timeout` for the exit, then SIGKILL."""
        finish_all([self], sig, timeout)

    def __repr__(self) -> str:
        return f"<pid {self.pid}>"


def finish_all(procs: list[_Seen], sig: int | None, timeout: float) -> None:
    """Signal (if `sig`), wait (bounded) for all to exit, SIGKILL the stragglers."""
    if sig is not None:
        for proc in procs:
            proc.signal(sig)
    deadline = Deadline(timeout)
    while any(p.alive() for p in procs) and not deadline.expired():
        time.sleep(0.02)
    for proc in procs:
        proc.signal(signal.SIGKILL)


def _stat_field(pid: int, index: int) -> str | None:
    """A field of /proc/PID/stat after the command name (0 = state, 1 = ppid, 19 = start time)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[index]
    except (OSError, IndexError):
        return None


def _parent_pid(pid: int) -> int | None:
    ppid = _stat_field(pid, 1)
    return int(ppid) if ppid is not None else None


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in glob.glob(f"/proc/{pid}/task/*/children"):
        with contextlib.suppress(OSError):
            found.extend(int(p) for p in Path(task).read_text().split())
    return found


def _descendants(pid: int) -> list[_Seen]:
    found, todo = [], _children(pid)
    while todo:
        child = todo.pop()
        found.append(_Seen(child))
        todo.extend(_children(child))
    return found


def _stop(proc: subprocess.Popen, sig: int, timeout: float, kill_timeout: float = 10.0) -> float:
    """Send `sig` to our child, wait up to `timeout`, then SIGKILL. Returns seconds taken.

    Its descendants, as seen just before the signal, are waited for too: after a
    SIGKILL they are orphans (PostgreSQL's backends notice the postmaster's
    death and exit, Erlang's helpers exit when their pipe closes); stragglers
    get SIGKILL. Only PIDs seen as descendants of our own child are touched.
    """
    started = time.monotonic()
    family = _descendants(proc.pid) if proc.poll() is None else []
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            try:
                proc.wait(kill_timeout)
            except subprocess.TimeoutExpired as exc:
                raise ServiceError(f"pid {proc.pid} survived SIGKILL for {kill_timeout} s") from exc
    finish_all(family, None, kill_timeout)
    return time.monotonic() - started


def rss_bytes(pid: int, *, with_children: bool = True) -> int:
    """Resident memory of `pid` (and its descendants) from /proc, in bytes."""
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
        if with_children:
            pids.extend(_children(current))
    return total


def _clean_env(drop_prefixes: tuple[str, ...] = ()) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop_prefixes)}
    env.setdefault("LANG", "C.UTF-8")
    env["LC_ALL"] = "C.UTF-8"
    return env


def _make_base_dir(prefix: str, parent: str | os.PathLike | None) -> Path:
    """A fresh directory in a place other users can traverse.

    PostgreSQL runs as another user when we are root, so the directory must
    not sit below pytest's 0700 /tmp/pytest-of-root; and unix socket paths are
    limited to 107 bytes, so it must stay short. Default: directly under /tmp.
    """
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


def _not_traversable(path: Path, uid: int, gid: int) -> Path | None:
    """The first directory on `path` (from /) that uid/gid may not enter, if any."""
    for directory in reversed([path, *path.parents]):
        st = directory.stat()
        if st.st_uid == uid:
            allowed = st.st_mode & 0o100
        elif st.st_gid == gid:
            allowed = st.st_mode & 0o010
        else:
            allowed = st.st_mode & 0o001
        if not allowed:
            return directory
    return None


def _remove_dir(path: Path | None) -> None:
    if path is not None and not os.environ.get(KEEP_ENV):
        shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------


def find_postgres_bindir() -> Path:
    """The directory with initdb/postgres: $HURRICANE_PG_BINDIR, Debian's newest, or PATH."""
    explicit = os.environ.get("HURRICANE_PG_BINDIR")
    candidates = [Path(explicit)] if explicit else []

    def version(path: str) -> tuple[int, ...]:
        part = Path(path).parent.parent.name
        return tuple(int(x) for x in part.split(".") if x.isdigit())

    candidates += [
        Path(p).parent
        for p in sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=version, reverse=True)
    ]
    on_path = shutil.which("postgres")
    if on_path:
        candidates.append(Path(on_path).parent)
    for bindir in candidates:
        if (bindir / "postgres").is_file() and (bindir / "initdb").is_file():
            return bindir
    raise ServiceUnavailable(
        "PostgreSQL server binaries not found (apt-get install postgresql, or set HURRICANE_PG_BINDIR)"
    )


def _os_user(name: str) -> tuple[int, int] | None:
    """(uid, gid) of `name` when we are root and must drop privileges, else None."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError as exc:
        raise ServiceUnavailable(f"running as root but there is no OS user {name!r}") from exc
    return entry.pw_uid, entry.pw_gid


class PostgresServer:
    """A private PostgreSQL cluster: initdb in a temp dir, postgres on a free port.

    ``pid`` is the postmaster's own PID (we drop privileges with Popen's
    user/group, not with runuser/su, which would stay in between as parent).
    """

    superuser = "postgres"  # initdb -U: the role name, whatever the OS user

    def __init__(
        self,
        *,
        parent_dir: str | os.PathLike | None = None,
        port: int | None = None,
        bindir: str | os.PathLike | None = None,
        os_user: str = "postgres",
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.bindir = Path(bindir) if bindir else find_postgres_bindir()
        self.user = _os_user(os_user)
        self.parent_dir = parent_dir
        self.port = port
        self.settings = {
            # A test cluster: durability against power loss is not needed;
            # a clean (SIGINT) shutdown still writes everything out.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            **(settings or {}),
        }
        self.base: Path | None = None
        self.proc: subprocess.Popen | None = None
        self.timings: dict[str, float] = {}

    # paths -----------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        assert self.base is not None
        return self.base / "data"

    @property
    def socket_dir(self) -> Path:
        assert self.base is not None
        return self.base / "s"

    @property
    def log(self) -> Path:
        assert self.base is not None
        return self.base / "postgres.log"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    # connection details ----------------------------------------------------------
    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host={LOCALHOST} port={self.port} user={self.superuser} dbname={dbname}"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.superuser}@{LOCALHOST}:{self.port}/{dbname}"

    def django_database(self, name: str, **extra: Any) -> dict[str, Any]:
        """A DATABASES entry (ENGINE postgresql works with psycopg 3 or psycopg2)."""
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": self.superuser,
            "PASSWORD": "",
            "HOST": LOCALHOST,
            "PORT": str(self.port),
            **extra,
        }

    # lifecycle ------------------------------------------------------------------------
    def setup(self, timeout: float = 60.0) -> None:
        """Make the directory and run initdb (trust auth, superuser 'postgres')."""
        if self.base is not None:
            return
        self.base = _make_base_dir("hurricane-pg-", self.parent_dir)
        if self.user is not None:
            blocked = _not_traversable(self.base.parent, *self.user)
            if blocked is not None:
                _remove_dir(self.base)
                self.base = None
                raise ServiceError(
                    f"{blocked} cannot be entered by uid {self.user[0]}, which runs PostgreSQL: "
                    "use a parent_dir like /tmp (not pytest's 0700 tmp_path)"
                )
        if len(str(self.socket_dir)) + len("/.s.PGSQL.65535") > 107:
            raise ServiceError(f"socket path under {self.socket_dir} is too long for a unix socket")
        self.socket_dir.mkdir()
        if self.user is not None:
            for path in (self.base, self.socket_dir):
                os.chown(path, *self.user)
            # the log is opened by us (root) and handed over as stdout
        if self.port is None:
            (self.port,) = free_ports(1)
        started = time.monotonic()
        with open(self.log, "ab") as out:
            result = subprocess.run(  # noqa: PLW1510 - the return code is checked below
                [
                    str(self.bindir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    self.superuser,
                    "--auth=trust",
                    "--no-locale",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.base,
                env=_clean_env(("PG",)),
                timeout=timeout,
                **({"user": self.user[0], "group": self.user[1], "extra_groups": []} if self.user else {}),
            )
        if result.returncode != 0:
            raise ServiceError(f"initdb failed ({result.returncode})\n{_tail(self.log)}")
        self.timings["initdb"] = time.monotonic() - started

    def start(self, timeout: float = 30.0) -> float:
        """Start postgres on the same port and data dir; wait until it accepts. Returns seconds."""
        if self.base is None:
            self.setup()
        if self.running:
            return 0.0
        argv = [
            str(self.bindir / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-k",
            str(self.socket_dir),
            "-c",
            f"listen_addresses={LOCALHOST}",
        ]
        for key, value in self.settings.items():
            argv += ["-c", f"{key}={value}"]
        deadline = Deadline(timeout)
        self.proc = _spawn(
            argv,
            log=self.log,
            env=_clean_env(("PG",)),
            cwd=self.base,
            user=self.user,
            death_signal=signal.SIGINT,  # fast shutdown if the test run dies
        )
        # First the postmaster's own word (no connection attempt that could hang
        # on someone else's listener), then one real connection.
        _wait_until(self._postmaster_ready, deadline, "PostgreSQL", proc=self.proc, log=self.log)
        _wait_until(self.accepts_connections, deadline, "PostgreSQL", proc=self.proc, log=self.log)
        self.timings["start"] = deadline.elapsed()
        return self.timings["start"]

    def _postmaster_ready(self) -> bool:
        """postmaster.pid names our PID and its status line (PostgreSQL 10+) says 'ready'."""
        lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        return (
            len(lines) >= 8
            and self.proc is not None
            and lines[0].strip() == str(self.proc.pid)
            and lines[7].strip() == "ready"
        )

    def accepts_connections(self) -> bool:
        try:
            import psycopg
        except ImportError:
            result = subprocess.run(
                [
                    str(self.bindir / "pg_isready"),
                    "-h",
                    LOCALHOST,
                    "-p",
                    str(self.port),
                    "-U",
                    self.superuser,
                    "-d",
                    "postgres",
                    "-t",
                    "1",
                    "-q",
                ],
                timeout=5,
                check=False,
            )
            return result.returncode == 0
        with psycopg.connect(self.conninfo(), connect_timeout=2):
            return True

    def stop(self, timeout: float = 15.0) -> float:
        """Fast shutdown (SIGINT: disconnect clients, roll back, checkpoint); SIGKILL after timeout.

        Not SIGTERM: that is 'smart' shutdown and waits for every client
        (a Django connection held by the test process) to go away.
        """
        if self.proc is None:
            return 0.0
        took = _stop(self.proc, signal.SIGINT, timeout)
        self.timings["stop"] = took
        return took

    def crash(self) -> None:
        """SIGKILL the postmaster (a crash, not an outage); its backends exit on their own."""
        if self.proc is not None:
            _stop(self.proc, signal.SIGKILL, 5.0)

    @contextlib.contextmanager
    def down(self, start_timeout: float = 30.0) -> Iterator[None]:
        """An outage: stopped inside the block, running again (same port, same data) after."""
        self.stop()
        try:
            yield
        finally:
            self.start(start_timeout)

    def close(self) -> None:
        try:
            if self.proc is not None:
                _stop(self.proc, signal.SIGINT, 15.0)
        finally:
            _remove_dir(self.base)
            self.base = None

    def create_database(self, name: str) -> None:
        try:
            import psycopg
            from psycopg import sql
        except ImportError:
            subprocess.run(
                [
                    str(self.bindir / "createdb"),
                    "-h",
                    LOCALHOST,
                    "-p",
                    str(self.port),
                    "-U",
                    self.superuser,
                    name,
                ],
                check=True,
                timeout=30,
            )
            return
        with psycopg.connect(self.conninfo(), autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def __enter__(self) -> PostgresServer:
        try:
            self.setup()
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------
# Redis
# --------------------------------------------------------------------------


class RedisServer:
    """A private redis-server: no persistence, loopback only, our child by PID."""

    def __init__(
        self,
        *,
        parent_dir: str | os.PathLike | None = None,
        port: int | None = None,
        binary: str | None = None,
    ) -> None:
        found = binary or shutil.which("redis-server")
        if not found:
            raise ServiceUnavailable("redis-server not found (apt-get install redis-server)")
        self.binary = found
        self.parent_dir = parent_dir
        self.port = port
        self.base: Path | None = None
        self.proc: subprocess.Popen | None = None
        self.timings: dict[str, float] = {}

    @property
    def log(self) -> Path:
        assert self.base is not None
        return self.base / "redis.log"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    def url(self, db: int = 0) -> str:
        return f"redis://{LOCALHOST}:{self.port}/{db}"

    def setup(self) -> None:
        if self.base is None:
            self.base = _make_base_dir("hurricane-redis-", self.parent_dir)
        if self.port is None:
            (self.port,) = free_ports(1)

    def start(self, timeout: float = 10.0) -> float:
        self.setup()
        if self.running:
            return 0.0
        deadline = Deadline(timeout)
        self.proc = _spawn(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                LOCALHOST,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.base),
                "--daemonize",
                "no",
                "--logfile",
                "",  # "" = stdout, which is our log file
                "--protected-mode",
                "yes",
            ],
            log=self.log,
            cwd=self.base,
        )
        _wait_until(self.ping, deadline, "Redis", proc=self.proc, log=self.log)
        self.timings["start"] = deadline.elapsed()
        return self.timings["start"]

    def ping(self) -> bool:
        """PING in raw RESP, so no client library is needed."""
        with socket.create_connection((LOCALHOST, self.port), timeout=1) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")

    def stop(self, timeout: float = 10.0) -> float:
        if self.proc is None:
            return 0.0
        took = _stop(self.proc, signal.SIGTERM, timeout)
        self.timings["stop"] = took
        return took

    @contextlib.contextmanager
    def down(self, start_timeout: float = 10.0) -> Iterator[None]:
        self.stop()
        try:
            yield
        finally:
            self.start(start_timeout)

    def close(self) -> None:
        try:
            self.stop()
        finally:
            _remove_dir(self.base)
            self.base = None

    def __enter__(self) -> RedisServer:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------
# RabbitMQ
# --------------------------------------------------------------------------


def find_rabbitmq_scripts() -> tuple[Path, Path]:
    """(rabbitmq-server, rabbitmqctl): the real scripts, not Debian's /usr/sbin wrappers.

    Debian's /usr/sbin/rabbitmq-server, run as root, re-runs itself through
    ``su rabbitmq`` (HOME=/var/lib/rabbitmq, i.e. the system cookie, and su's
    PID instead of ours) and redirects output to /var/log/rabbitmq. The
    scripts in /usr/lib/rabbitmq/bin run as whoever calls them.
    """
    explicit = os.environ.get("HURRICANE_RABBITMQ_SBIN")
    dirs = [Path(explicit)] if explicit else []
    dirs.append(Path("/usr/lib/rabbitmq/bin"))
    on_path = shutil.which("rabbitmq-server")
    if on_path:
        dirs.append(Path(on_path).parent)
    for sbin in dirs:
        server, ctl = sbin / "rabbitmq-server", sbin / "rabbitmqctl"
        if server.is_file() and ctl.is_file():
            if sbin == Path("/usr/sbin") and Path("/usr/lib/rabbitmq/bin").is_dir():
                continue  # the Debian wrapper; skipped (see above)
            return server, ctl
    raise ServiceUnavailable("rabbitmq-server not found (apt-get install rabbitmq-server)")


def _amqp_answers(port: int) -> bool:
    """Send the AMQP 0-9-1 protocol header; a broker answers with a method frame (type 1).

    That is connection.start: the listener is up, and RabbitMQ opens it only
    after its boot step that recovers queues. No client library needed.
    """
    with socket.create_connection((LOCALHOST, port), timeout=1) as sock:
        sock.settimeout(2)
        sock.sendall(b"AMQP\x00\x00\x09\x01")
        frame = sock.recv(8)
        return len(frame) >= 1 and frame[0] == 1


class RabbitMQServer:
    """A private RabbitMQ node with its own epmd, cookie, ports and data directory.

    Processes, all ours:
      * ``epmd_proc``: ``epmd -port EPMD -address 127.0.0.1`` in the foreground;
        the node is told about it by ERL_EPMD_PORT and so never starts
        (and leaves behind) a daemonised epmd, nor talks to a system one on 4369.
      * ``proc``: the ``rabbitmq-server`` shell script (it stays as parent,
        trapping TERM/INT into a graceful stop of the VM);
      * ``beam_pid``: the Erlang VM (beam.smp), read from RABBITMQ_PID_FILE and
        checked to be the script's child.
    The node name stays the same across stop/start: the data directory
    (MNESIA_BASE/NODENAME) belongs to that name, so durable queues come back.
    """

    def __init__(
        self,
        *,
        parent_dir: str | os.PathLike | None = None,
        node_name: str | None = None,
        ready_check: str = "amqp",  # "amqp", "rabbitmqctl" or "both"
        extra_config: str = "",
    ) -> None:
        self.server_script, self.ctl_script = find_rabbitmq_scripts()
        self.erl = shutil.which("erl")
        self.epmd = shutil.which("epmd") or _find_epmd()
        if not self.erl or not self.epmd:
            raise ServiceUnavailable("Erlang (erl, epmd) not found (apt-get install rabbitmq-server)")
        self.parent_dir = parent_dir
        self.node = node_name or f"hurricane-test-{secrets.token_hex(4)}@localhost"
        self.ready_check = ready_check
        self.extra_config = extra_config
        self.base: Path | None = None
        self.port = self.dist_port = self.epmd_port = self.ctl_port = 0
        self.proc: subprocess.Popen | None = None
        self.epmd_proc: subprocess.Popen | None = None
        self.beam: _Seen | None = None  # the Erlang VM
        self.timings: dict[str, float] = {}

    # paths and environment ------------------------------------------------------
    def _path(self, name: str) -> Path:
        assert self.base is not None
        return self.base / name

    @property
    def pid_file(self) -> Path:
        return self._path("rabbit.pid")

    @property
    def log(self) -> Path:
        """The broker's own log (boot steps, errors)."""
        return self._path("log") / f"{self.node}.log"

    @property
    def console_log(self) -> Path:
        """stdout/stderr of the script and VM (crash dumps, early boot errors)."""
        return self._path("server.out")

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{LOCALHOST}:{self.port}/"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def env(self) -> dict[str, str]:
        assert self.base is not None
        env = _clean_env(("RABBITMQ_", "ERL_", "NOTIFY_SOCKET"))
        loopback_dist = "-kernel inet_dist_use_interface {127,0,0,1}"
        env.update(
            HOME=str(self._path("home")),  # Erlang reads $HOME/.erlang.cookie: ours
            ERL_EPMD_PORT=str(self.epmd_port),
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_IP_ADDRESS=LOCALHOST,
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(self._path("mnesia")),
            RABBITMQ_LOG_BASE=str(self._path("log")),
            RABBITMQ_CONFIG_FILE=str(self._path("rabbitmq.conf")),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(self._path("advanced.config")),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self._path("enabled_plugins")),
            RABBITMQ_CONF_ENV_FILE=str(self._path("rabbitmq-env.conf")),
            RABBITMQ_PID_FILE=str(self.pid_file),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=loopback_dist,
            # rabbitmqctl is a (hidden) Erlang node too and listens on a port
            # from this range (default 35672-35682, shared by everybody).
            RABBITMQ_CTL_DIST_PORT_MIN=str(self.ctl_port),
            RABBITMQ_CTL_DIST_PORT_MAX=str(self.ctl_port),
            RABBITMQ_CTL_ERL_ARGS=loopback_dist,
        )
        return env

    # lifecycle ----------------------------------------------------------------------
    def setup(self) -> None:
        if self.base is not None:
            return
        self.base = _make_base_dir("hurricane-rmq-", self.parent_dir)
        for name in ("home", "mnesia", "log"):
            self._path(name).mkdir()
        self.port, self.dist_port, self.epmd_port, self.ctl_port = free_ports(4)
        cookie = self._path("home") / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(16).upper())
        cookie.chmod(0o400)  # Erlang refuses a cookie others can read
        self._path("enabled_plugins").write_text("[].\n")  # no management, no plugins
        self._path("rabbitmq-env.conf").write_text("")  # instead of /etc/rabbitmq's
        self._path("rabbitmq.conf").write_text(
            "loopback_users.guest = true\n"
            # default 50MB: on a nearly full disk the broker would block publishers
            "disk_free_limit.absolute = 1MB\n"
            "log.console = false\n"
            "log.file.level = info\n" + self.extra_config
        )

    def _start_epmd(self, deadline: Deadline) -> None:
        if self.epmd_proc is not None and self.epmd_proc.poll() is None:
            return
        self.epmd_proc = _spawn(
            [self.epmd, "-port", str(self.epmd_port), "-address", LOCALHOST],
            log=self._path("epmd.log"),
            env=self.env(),
            cwd=self.base,
        )
        _wait_until(
            lambda: _tcp_accepts(self.epmd_port),
            deadline,
            "epmd",
            proc=self.epmd_proc,
            log=self._path("epmd.log"),
        )

    def start(self, timeout: float = 120.0) -> float:
        """Start the node (same name, ports and data as before); wait until it serves AMQP."""
        self.setup()
        if self.running:
            return 0.0
        deadline = Deadline(timeout)
        self._start_epmd(deadline)
        self.beam = None
        self.pid_file.unlink(missing_ok=True)  # a crash (SIGKILL) leaves a stale one
        self.proc = _spawn(
            [str(self.server_script)],
            log=self.console_log,
            env=self.env(),
            cwd=self.base,
        )
        _wait_until(self._read_beam_pid, deadline, "RabbitMQ pid file", proc=self.proc, log=self.console_log)
        if self.ready_check in ("rabbitmqctl", "both"):
            self.ctl(
                "wait",
                str(self.pid_file),
                "--timeout",
                str(max(1, int(deadline.remaining()))),
                timeout=deadline.remaining() + 5,
            )
        if self.ready_check in ("amqp", "both"):
            _wait_until(
                lambda: _amqp_answers(self.port), deadline, "RabbitMQ AMQP", proc=self.proc, log=self.log
            )
        self.timings["start"] = deadline.elapsed()
        return self.timings["start"]

    def _read_beam_pid(self) -> bool:
        text = self.pid_file.read_text().strip()  # FileNotFoundError = not yet
        if not text:
            return False
        pid = int(text)
        if _parent_pid(pid) != self.proc.pid:  # type: ignore[union-attr]
            raise ServiceError(f"pid {pid} in {self.pid_file} is not our VM")
        self.beam = _Seen(pid)
        return True

    @property
    def beam_pid(self) -> int | None:
        return self.beam.pid if self.beam is not None else None

    def ctl(self, *args: str, timeout: float = 60.0) -> str:
        """Run rabbitmqctl against this node only; returns its stdout."""
        result = subprocess.run(
            [str(self.ctl_script), "-q", "-n", self.node, *args],
            env=self.env(),
            cwd=self.base,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise ServiceError(
                f"rabbitmqctl {' '.join(args)} failed ({result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}"
            )
        return result.stdout

    def stop(self, timeout: float = 30.0) -> float:
        """Graceful stop: SIGTERM to the VM (RabbitMQ's handler runs a clean shutdown).

        The script, its parent, exits when the VM does. epmd keeps running, so
        a following start() reuses it.
        """
        return self._halt(signal.SIGTERM, timeout, "stop")

    def crash(self) -> float:
        """SIGKILL the VM: no clean shutdown (confirmed persistent messages still survive)."""
        return self._halt(signal.SIGKILL, 10.0, "crash")

    def _halt(self, sig: int, timeout: float, label: str) -> float:
        if self.proc is None:
            return 0.0
        started = time.monotonic()
        # the VM and its helpers (erl_child_setup, inet_gethost), seen before the signal
        family = _descendants(self.proc.pid) if self.proc.poll() is None else []
        if self.proc.poll() is None:
            if self.beam is not None and self.beam.alive():
                self.beam.signal(sig)
            else:  # not booted far enough to have written its pid: the script forwards TERM
                with contextlib.suppress(ProcessLookupError):
                    self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                finish_all(family, signal.SIGKILL, 5.0)
                _stop(self.proc, signal.SIGKILL, 5.0)
        finish_all(family, None, 10.0)
        self.beam = None
        took = time.monotonic() - started
        self.timings[label] = took
        return took

    @contextlib.contextmanager
    def down(self, start_timeout: float = 120.0) -> Iterator[None]:
        self.stop()
        try:
            yield
        finally:
            self.start(start_timeout)

    def memory(self) -> int:
        """RSS of the VM and its helper processes, in bytes."""
        return rss_bytes(self.beam.pid) if self.beam is not None and self.beam.alive() else 0

    def close(self) -> None:
        try:
            self.stop()
        finally:
            try:
                if self.epmd_proc is not None:
                    _stop(self.epmd_proc, signal.SIGTERM, 5.0)
            finally:
                _remove_dir(self.base)
                self.base = None

    def __enter__(self) -> RabbitMQServer:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _find_epmd() -> str | None:
    found = sorted(glob.glob("/usr/lib/erlang/erts-*/bin/epmd"))
    return found[-1] if found else None


# --------------------------------------------------------------------------
# pytest: thin session fixtures
# --------------------------------------------------------------------------

try:
    import pytest
except ImportError:  # the classes above are usable without pytest
    pytest = None  # type: ignore[assignment]


def _unavailable(exc: ServiceUnavailable) -> None:
    """Locally a missing package skips; under CI (CI=true) it fails the test."""
    if os.environ.get("CI"):
        pytest.fail(str(exc))
    pytest.skip(str(exc))


_Server = TypeVar("_Server", PostgresServer, RedisServer, RabbitMQServer)


def _running(kind: Callable[[], _Server]) -> Iterator[_Server]:
    """A private server for the session, stopped by PID at its end."""
    try:
        server = kind()
    except ServiceUnavailable as exc:
        _unavailable(exc)
    with server:
        yield server


if pytest is not None:

    @pytest.fixture(scope="session")
    def postgres_server() -> Iterator[PostgresServer]:
        yield from _running(PostgresServer)

    @pytest.fixture
    def postgres(postgres_server: PostgresServer) -> PostgresServer:
        """The session's server, started again if an earlier test left it down."""
        postgres_server.start()
        return postgres_server

    @pytest.fixture(scope="session")
    def redis_server() -> Iterator[RedisServer]:
        yield from _running(RedisServer)

    @pytest.fixture
    def redis(redis_server: RedisServer) -> RedisServer:
        redis_server.start()
        return redis_server

    @pytest.fixture(scope="session")
    def rabbitmq_server() -> Iterator[RabbitMQServer]:
        yield from _running(RabbitMQServer)

    @pytest.fixture
    def rabbitmq(rabbitmq_server: RabbitMQServer) -> RabbitMQServer:
        rabbitmq_server.start()
        return rabbitmq_server
