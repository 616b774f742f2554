"""``chaoslab up | down | status``: the whole topology as local processes, no Docker.

``up`` starts each server in dependency order, waits for a real readiness answer, and
records every pid and URL in the state file. ``down`` stops exactly those pids.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg

from chaos.exceptions import StackError
from chaos.stack import services
from chaos.stack.config import StackSettings
from chaos.stack.processes import ManagedProcess, postgres_server, redis_server
from chaos.stack.state import StackState, pid_alive

Progress = Callable[[str], None]

# Start order; down stops in reverse.
ORDER = (
    "redis",
    "postgres",
    "pms",
    "proxy",
    "alert_sink",
    "alertmanager",
    "agent",
    "redis_exporter",
    "postgres_exporter",
    "prometheus",
)


def _ports(s: StackSettings) -> dict[str, int]:
    return {name: int(value) for name, value in s.ports.model_dump().items()}


def running(s: StackSettings) -> StackState | None:
    """The recorded stack if any of its processes is still alive."""
    try:
        state = StackState.load(s.state_file)
    except StackError:
        return None
    return state if any(pid_alive(pid) for pid in state.pids.values()) else None


def _create_database(host: str, port: int, name: str) -> None:
    with psycopg.connect(
        host=host, port=port, user="postgres", dbname="postgres", autocommit=True, connect_timeout=5
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def postgres_dir(root: Path) -> Path:
    """Where the cluster lives: in the state folder, unless the postgres user (needed when
    running as root) cannot reach it, as under a 0700 home folder; then under /tmp."""
    existing = [p for p in root.resolve().parents if p.exists()]
    if os.geteuid() != 0 or all(p.stat().st_mode & 0o001 for p in existing):
        return root / "postgres"
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"hotel-chaos-lab-{digest}" / "postgres"


def _launchers(s: StackSettings, root: Path) -> dict[str, Callable[[], ManagedProcess]]:
    h, p = s.host, s.ports
    return {
        "redis": lambda: redis_server(root / "redis", p.redis, h),
        "postgres": lambda: postgres_server(postgres_dir(root), p.postgres, h),
        "pms": lambda: services.pms_simulator(s, root / "pms"),
        "proxy": lambda: services.proxy(s, root / "proxy"),
        "alert_sink": lambda: services.alert_sink(s, root / "alertmanager"),
        "alertmanager": lambda: services.alertmanager(s, root / "alertmanager"),
        "agent": lambda: services.agent(s, root / "agent"),
        "redis_exporter": lambda: services.redis_exporter(s, root / "exporters"),
        "postgres_exporter": lambda: services.postgres_exporter(s, root / "exporters"),
        "prometheus": lambda: services.prometheus(s, root / "prometheus"),
    }


def up(s: StackSettings | None = None, progress: Progress = print) -> StackState:
    """Start the stack, or return the one already running."""
    s = s or StackSettings()
    existing = running(s)
    if existing is not None:
        progress(f"stack already running (state file {s.state_file})")
        return existing
    busy = [
        f"{name} ({port})"
        for name, port in _ports(s).items()
        if not services.port_is_free(s.host, port)
    ]
    if busy:
        raise StackError(
            f"ports already in use: {', '.join(busy)}; stop what holds them or set "
            "CHAOSLAB_PORTS__<NAME>"
        )
    root = s.state_dir
    root.mkdir(parents=True, exist_ok=True)
    for sub in ("pms", "proxy", "alertmanager", "agent", "exporters", "prometheus"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    state = StackState(
        urls=services.stack_urls(s),
        state_dir=str(root),
        started_at=time.time(),
        admin_token=s.admin_token,
        whatsapp_secret=s.whatsapp_secret,
        proxies={c["name"]: c for c in services.proxy_config(s)},
        fallback_path=str(root / "agent" / "audit_fallback.jsonl"),
    )
    launchers = _launchers(s, root)
    started: list[ManagedProcess] = []
    try:
        for name in ORDER:
            began = time.monotonic()
            proc = launchers[name]()
            proc.start(timeout=60)
            started.append(proc)
            assert proc.pid is not None
            state.pids[name] = proc.pid
            state.save(s.state_file)
            if name == "postgres":
                _create_database(s.host, s.ports.postgres, "hotel")
            progress(f"  {name:<18} ready in {time.monotonic() - began:5.2f} s  (pid {proc.pid})")
    except BaseException:
        for proc in reversed(started):
            proc.stop()
        with contextlib.suppress(FileNotFoundError):
            s.state_file.unlink()
        raise
    return state


def _stop_pid(name: str, pid: int, timeout: float = 10.0) -> None:
    sig = signal.SIGINT if name == "postgres" else signal.SIGTERM
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if not pid_alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def down(s: StackSettings | None = None, progress: Progress = print) -> list[str]:
    """Stop every process the recorded stack started; returns their names."""
    s = s or StackSettings()
    try:
        state = StackState.load(s.state_file)
    except StackError:
        progress("no stack is running")
        return []
    stopped = []
    for name in reversed(ORDER):
        pid = state.pids.get(name)
        if pid is not None and pid_alive(pid):
            _stop_pid(name, pid)
            stopped.append(name)
            progress(f"  {name:<18} stopped (pid {pid})")
    s.state_file.unlink(missing_ok=True)
    return stopped


def probe(state: StackState) -> dict[str, bool]:
    """Whether each recorded process is alive and its endpoint answers."""
    u = state.urls
    checks: dict[str, Callable[[], bool]] = {
        "agent": lambda: services.http_ok(f"{u['agent']}/health/live"),
        "pms": lambda: services.http_ok(f"{u['pms']}/health"),
        "proxy": lambda: services.http_ok(f"{u['proxy_api']}/version"),
        "prometheus": lambda: services.http_ok(f"{u['prometheus']}/-/ready"),
        "alertmanager": lambda: services.http_ok(f"{u['alertmanager']}/-/ready"),
        "redis_exporter": lambda: services.http_ok(f"{u['redis_exporter']}/metrics"),
        "postgres_exporter": lambda: services.http_ok(f"{u['postgres_exporter']}/metrics"),
    }
    result = {}
    for name in ORDER:
        pid = state.pids.get(name)
        alive = pid is not None and pid_alive(pid)
        check = checks.get(name)
        result[name] = alive and (check() if check else True)
    return result


def agent_client(state: StackState, timeout: float = 10.0) -> httpx.Client:
    """An HTTP client for the running agent."""
    return httpx.Client(base_url=state.url("agent"), timeout=timeout)
