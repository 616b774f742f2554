"""Start and stop the stack's servers as child processes on loopback.

Each server runs in the foreground as our own child (never daemonised), so the pid we
hold is the server's and ``stop()`` ends exactly what ``start()`` began. Readiness is a
real query (PING, a SQL connection, an HTTP health endpoint), never a sleep.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chaos.exceptions import StackError

PG_BIN = Path(os.environ.get("CHAOSLAB_PG_BIN", "/usr/lib/postgresql/15/bin"))


_HANDED_OUT: set[int] = set()
# Every server started from this process, by pid. A stack outlives the objects that
# started it (it is stopped by pid); dropping a Popen whose child still runs is a
# ResourceWarning, so each stays referenced for the life of the process.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _port_range() -> tuple[int, int]:
    """Where ``free_port`` looks: ``$CHAOSLAB_PORT_RANGE`` (``LOW-HIGH``), else 10000 up to
    the kernel's ephemeral range. Parallel test workers each get a slice of their own."""
    low, _ = _ephemeral_range()
    spec = os.environ.get("CHAOSLAB_PORT_RANGE", "")
    if spec:
        a, _, b = spec.partition("-")
        try:
            return int(a), int(b)
        except ValueError as exc:
            raise StackError(f"CHAOSLAB_PORT_RANGE must be LOW-HIGH, got {spec!r}") from exc
    return 10_000, max(low, 10_001)


def free_port(host: str = "127.0.0.1") -> int:
    """A free TCP port on ``host``, below the kernel's ephemeral range.

    A port the kernel hands out for port 0 comes from the ephemeral range, where any
    outgoing connection may take it before our server binds it. Ports below that range
    are only ever bound on purpose; each is handed out once per process.
    """
    low, high = _port_range()
    rng = random.Random()
    for _ in range(500):
        port = rng.randrange(low, high)
        if port in _HANDED_OUT:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise StackError(f"no free TCP port found on {host} between {low} and {high}")


def tcp_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file, or a note that there is none."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def require_binary(name: str, hint: str) -> str:
    """Path of an executable, or a one-line StackError saying what to install."""
    found = shutil.which(name) or (str(PG_BIN / name) if (PG_BIN / name).exists() else None)
    if not found:
        raise StackError(f"{name} not found: {hint}")
    return found


@dataclass
class ManagedProcess:
    """A server started as a child process, with a log file and a readiness probe."""

    name: str
    argv: Sequence[str]
    log_path: Path
    ready: Callable[[], bool]
    env: dict[str, str] | None = None
    user: str | None = None
    cwd: Path | None = None
    stop_signal: int = signal.SIGTERM
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self, timeout: float = 30.0) -> None:
        """Start the process and block until it is ready, or raise with its log tail."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                list(self.argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(self.env or {})},
                user=self.user,
                cwd=self.cwd,
                start_new_session=True,
            )
        _CHILDREN[self.proc.pid] = self.proc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StackError(
                    f"{self.name} exited with code {self.proc.returncode}: "
                    f"{tail(self.log_path, 1)} (log {self.log_path})\n{tail(self.log_path)}"
                )
            if self.ready():
                return
            time.sleep(0.05)
        self.stop()
        raise StackError(
            f"{self.name} not ready after {timeout:.0f} s: {tail(self.log_path, 1)} "
            f"(log {self.log_path})\n{tail(self.log_path)}"
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the process (its signal, then SIGKILL after ``timeout``)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(self.stop_signal)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            self.proc.wait(5)


def redis_ping(host: str, port: int) -> bool:
    """True when Redis answers PING with PONG."""
    try:
        with socket.create_connection((host, port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def redis_server(
    data_dir: Path, port: int, host: str = "127.0.0.1", persistent: bool = False
) -> ManagedProcess:
    """A redis-server on loopback; ``persistent`` keeps its keys across a kill or restart.

    Persistence is the append-only file: Redis hands each write to the OS before it
    replies (fsync every second), so a killed server reloads what it acknowledged; an OS
    crash could lose the last second, and that is not a fault this lab injects.
    """
    binary = require_binary("redis-server", "install it with: apt-get install redis-server")
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        binary,
        "--port",
        str(port),
        "--bind",
        host,
        "--save",
        "",
        "--appendonly",
        "yes" if persistent else "no",
        "--appendfsync",
        "everysec",
        "--dir",
        str(data_dir),
        "--daemonize",
        "no",
        "--protected-mode",
        "yes",
        # A bound and an eviction policy that only touches keys with a TTL (caches and
        # sessions), so memory alerts have a denominator and nothing durable is evicted.
        "--maxmemory",
        "256mb",
        "--maxmemory-policy",
        "volatile-lru",
    ]
    return ManagedProcess(
        name="redis",
        argv=argv,
        log_path=data_dir / "redis.log",
        ready=lambda: redis_ping(host, port),
    )


def _pg_user() -> str | None:
    """PostgreSQL refuses to run as root: run it as the ``postgres`` user then."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise StackError("running as root needs a 'postgres' user for initdb") from exc
    return "postgres"


def pg_ready(host: str, port: int) -> bool:
    """True when PostgreSQL accepts a real connection."""
    import psycopg

    try:
        with psycopg.connect(
            host=host, port=port, user="postgres", dbname="postgres", connect_timeout=1
        ) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def postgres_server(data_dir: Path, port: int, host: str = "127.0.0.1") -> ManagedProcess:
    """A PostgreSQL 15 cluster kept in ``data_dir`` (trust auth on loopback, no fsync)."""
    initdb = require_binary("initdb", f"PostgreSQL 15 server binaries expected in {PG_BIN}")
    postgres = require_binary("postgres", f"PostgreSQL 15 server binaries expected in {PG_BIN}")
    user = _pg_user()
    data_dir.mkdir(parents=True, exist_ok=True)
    if user:
        shutil.chown(data_dir, user, user)
        os.chmod(data_dir, 0o700)
        # The postgres user must be able to reach its folder (mkdtemp parents are 0700).
        parent = data_dir.parent
        if parent.stat().st_uid == os.geteuid():
            os.chmod(parent, parent.stat().st_mode | 0o011)
    pgdata = data_dir / "data"
    if not (pgdata / "PG_VERSION").exists():
        result = subprocess.run(
            [initdb, "-D", str(pgdata), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"],
            capture_output=True,
            user=user,
            check=False,
            timeout=120,
        )
        if result.returncode != 0:
            raise StackError(f"initdb failed: {result.stderr.decode(errors='replace').strip()}")
    argv = [
        postgres,
        "-D",
        str(pgdata),
        "-p",
        str(port),
        "-k",
        str(data_dir),
        "-c",
        f"listen_addresses={host}",
        "-c",
        "fsync=off",
        "-c",
        "full_page_writes=off",
        # Commits reach the OS before they are acknowledged, so a killed server keeps
        # them (crash recovery replays the WAL); fsync stays off, since an OS crash is
        # not a fault this lab injects and the write costs microseconds.
        "-c",
        "synchronous_commit=on",
        "-c",
        "max_connections=100",
    ]
    return ManagedProcess(
        name="postgres",
        argv=argv,
        log_path=data_dir / "postgres.log",
        ready=lambda: pg_ready(host, port),
        user=user,
        stop_signal=signal.SIGINT,
    )


def sys_python() -> str:
    """The interpreter running us, so children use the same virtualenv."""
    import sys

    return sys.executable
