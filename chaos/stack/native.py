"""``chaoslab up | down | status``: the whole topology as local processes, no Docker.

``up`` starts each server in dependency order, waits for a real readiness answer, and
records every pid and URL in the state file. On a stack that is already running it
reconciles: in the same order it starts what died, resumes what was paused and restarts
what no longer answers, with the recorded settings, keeping every data folder (Redis's
append-only file, the PostgreSQL cluster, the agent's audit fallback file). ``down``
stops exactly the recorded processes and their children.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
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
from chaos.stack.processes import (
    ManagedProcess,
    pg_ready,
    postgres_server,
    redis_ping,
    redis_server,
    tcp_open,
)
from chaos.stack.ptree import proc_stat, signal_tree, stop_tree, stopped, tree, wait_for
from chaos.stack.state import StackState

Progress = Callable[[str], None]

# Start order; down stops in reverse.
ORDER = (
    "redis",
    "postgres",
    "pms",
    "proxy",
    "nlu",
    "stt",
    "alert_sink",
    "alertmanager",
    "agent",
    "redis_exporter",
    "postgres_exporter",
    "prometheus",
)


# The ports each service binds (the proxy also binds one per proxied service).
SERVICE_PORTS = {name: (name,) for name in ORDER} | {
    "proxy": (
        "proxy_api",
        "proxy_redis",
        "proxy_postgres",
        "proxy_pms",
        "proxy_graph",
        "proxy_nlu",
        "proxy_stt",
    )
}
# PostgreSQL's fast shutdown (SIGINT) ends its backends; SIGTERM would wait for clients.
STOP_SIGNALS = {"postgres": signal.SIGINT}
# How long a live process may fail its answer check before `up` restarts it.
ANSWER_GRACE_S = 10.0


def _ports(s: StackSettings) -> dict[str, int]:
    return {name: int(value) for name, value in s.ports.model_dump().items()}


def running(s: StackSettings) -> StackState | None:
    """The recorded stack if any of its processes is still alive."""
    try:
        state = StackState.load(s.state_file)
    except StackError:
        return None
    return state if any(state.live_pid(name) for name in state.pids) else None


def settings_of(state: StackState) -> StackSettings:
    """The settings the stack was started with (the current ones for an old state file)."""
    return StackSettings(**state.settings) if state.settings else StackSettings()


def check_service(name: str) -> None:
    """Raise a one-line StackError unless ``name`` is a service of the native stack."""
    if name not in ORDER:
        raise StackError(f"no service named {name!r}; the services are {', '.join(ORDER)}")


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
        "redis": lambda: redis_server(root / "redis", p.redis, h, persistent=True),
        "postgres": lambda: postgres_server(postgres_dir(root), p.postgres, h),
        "pms": lambda: services.pms_simulator(s, root / "pms"),
        "proxy": lambda: services.proxy(s, root / "proxy"),
        "nlu": lambda: services.nlu(s, root / "nlu"),
        "stt": lambda: services.stt(s, root / "stt"),
        "alert_sink": lambda: services.alert_sink(s, root / "alertmanager"),
        "alertmanager": lambda: services.alertmanager(s, root / "alertmanager"),
        "agent": lambda: services.agent(s, root / "agent"),
        "redis_exporter": lambda: services.redis_exporter(s, root / "exporters"),
        "postgres_exporter": lambda: services.postgres_exporter(s, root / "exporters"),
        "prometheus": lambda: services.prometheus(s, root / "prometheus"),
    }


def up(s: StackSettings | None = None, progress: Progress = print) -> StackState:
    """Start the stack, or reconcile the one already running (see the module docstring)."""
    s = s or StackSettings()
    existing = running(s)
    if existing is not None:
        progress(f"stack already running (state file {s.state_file})")
        healed = reconcile(existing, progress)
        progress(f"  restarted or resumed: {', '.join(healed)}" if healed else "  every service up")
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
    for sub in ("pms", "proxy", "nlu", "stt", "alertmanager", "agent", "exporters", "prometheus"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    # A stack started from scratch gets an empty Redis, as before it had persistence;
    # the append-only file only carries keys across kills and restarts of a live stack.
    shutil.rmtree(root / "redis" / "appendonlydir", ignore_errors=True)
    state = StackState(
        urls=services.stack_urls(s),
        state_dir=str(root),
        started_at=time.time(),
        admin_token=s.admin_token,
        whatsapp_secret=s.whatsapp_secret,
        proxies={c["name"]: c for c in services.proxy_config(s)},
        fallback_path=str(root / "agent" / "audit_fallback.jsonl"),
        settings=s.model_dump(mode="json"),
    )
    started: list[ManagedProcess] = []
    try:
        for name in ORDER:
            began = time.monotonic()
            proc = start_service(name, s, state)
            started.append(proc)
            progress(f"  {name:<18} ready in {time.monotonic() - began:5.2f} s  (pid {proc.pid})")
    except BaseException:
        for proc in reversed(started):
            proc.stop()
        with contextlib.suppress(FileNotFoundError):
            s.state_file.unlink()
        raise
    return state


def start_service(name: str, s: StackSettings, state: StackState) -> ManagedProcess:
    """Start one service, wait until it is ready, and record its pid in the state file."""
    proc = _launchers(s, s.state_dir)[name]()
    proc.start(timeout=60)
    assert proc.pid is not None
    state.record(name, proc.pid)
    state.save(s.state_file)
    if name == "postgres":
        _create_database(s.host, s.ports.postgres, "hotel")
    return proc


def stop_service(state: StackState, name: str, timeout: float = 10.0) -> bool:
    """Stop a service and its children gracefully (SIGKILL after ``timeout``).

    Also ends what is left in the process group of a leader that died alone. Returns
    False when something had to be killed.
    """
    pid = state.live_pid(name)
    if pid is not None:
        return stop_tree(pid, STOP_SIGNALS.get(name, signal.SIGTERM), timeout)
    recorded = state.pids.get(name)
    if recorded is None:
        return True
    stat = proc_stat(recorded)
    # Only while the pid is not another process's now (gone, or our own zombie).
    if (stat is None or stat.start == state.pid_starts.get(name)) and tree(recorded):
        return stop_tree(recorded, signal.SIGKILL, timeout)
    return True


def restart_service(state: StackState, name: str, timeout: float = 10.0) -> ManagedProcess:
    """Stop a service gracefully, start it again with the recorded settings, wait until ready."""
    s = settings_of(state)
    stop_service(state, name, timeout)
    # A dead server is a zombie until its parent (init, for a stack started by an earlier
    # command) reaps it, and PostgreSQL refuses to start while the pid in its lock file
    # still exists: wait for the entry to go.
    old, born = state.pids.get(name), state.pid_starts.get(name)
    if name == "postgres" and old is not None:
        wait_for(lambda: getattr(proc_stat(old), "start", None) != born, 5.0)
    ports = _ports(s)

    def busy_ports() -> list[str]:
        fields = SERVICE_PORTS[name]
        return [str(ports[f]) for f in fields if not services.port_is_free(s.host, ports[f])]

    wait_for(lambda: not busy_ports(), 5.0, step=0.1)
    if busy := busy_ports():
        raise StackError(f"{name} cannot be brought back: port {', '.join(busy)} is in use")
    try:
        return start_service(name, s, state)
    except StackError as exc:
        raise StackError(f"{name} cannot be brought back: {exc}") from exc


def service_state(state: StackState, name: str) -> str:
    """``up``, ``paused`` (stopped by SIGSTOP), ``not answering`` or ``down``."""
    pid = state.live_pid(name)
    if pid is None:
        return "down"
    if any(stopped(stat) for stat in tree(pid).values()):
        return "paused"
    return "up" if _answer_checks(state)[name]() else "not answering"


def reconcile(state: StackState, progress: Progress = print) -> list[str]:
    """Bring every service of a running stack back, in dependency order; the names healed.

    Raises StackError naming the first service that cannot be brought back.
    """
    healed = []
    for name in ORDER:
        began = time.monotonic()
        condition = service_state(state, name)
        if condition == "paused":
            pid = state.live_pid(name)
            assert pid is not None
            signal_tree(pid, signal.SIGCONT)
            condition = "up" if answers_within(state, name) else "not answering"
            if condition == "up":
                progress(f"  {name:<18} was paused: resumed")
                healed.append(name)
                continue
        elif condition == "not answering" and answers_within(state, name):
            continue
        if condition == "up":
            continue
        cause = "it had died" if condition == "down" else "it did not answer"
        proc = restart_service(state, name)
        took = time.monotonic() - began
        progress(f"  {name:<18} restarted in {took:5.2f} s  (pid {proc.pid}; {cause})")
        healed.append(name)
    return healed


def answers_within(state: StackState, name: str) -> bool:
    """Whether ``name`` answers within the grace a live service is given."""
    check = _answer_checks(state)[name]
    return wait_for(check, ANSWER_GRACE_S, step=0.2)


def down(s: StackSettings | None = None, progress: Progress = print) -> list[str]:
    """Stop every process the recorded stack started, children included; their names."""
    s = s or StackSettings()
    try:
        state = StackState.load(s.state_file)
    except StackError:
        progress("no stack is running")
        return []
    stopped = []
    for name in reversed(ORDER):
        pid = state.live_pid(name)
        stop_service(state, name)
        if pid is not None:
            stopped.append(name)
            progress(f"  {name:<18} stopped (pid {pid})")
    s.state_file.unlink(missing_ok=True)
    return stopped


def _answer_checks(state: StackState) -> dict[str, Callable[[], bool]]:
    """Whether each running service answers a real request (no side effects)."""
    u, s = state.urls, settings_of(state)
    h, p = s.host, s.ports
    return {
        "redis": lambda: redis_ping(h, p.redis),
        "postgres": lambda: pg_ready(h, p.postgres),
        "pms": lambda: services.http_ok(f"{u['pms']}/health"),
        "proxy": lambda: services.http_ok(f"{u['proxy_api']}/version"),
        "nlu": lambda: services.http_ok(f"{u['nlu']}/health"),
        "stt": lambda: services.http_ok(f"{u['stt']}/health"),
        "alert_sink": lambda: tcp_open(h, p.alert_sink),
        "alertmanager": lambda: services.http_ok(f"{u['alertmanager']}/-/ready"),
        "agent": lambda: services.http_ok(f"{u['agent']}/health/live"),
        "redis_exporter": lambda: services.http_ok(f"{u['redis_exporter']}/metrics"),
        "postgres_exporter": lambda: services.http_ok(f"{u['postgres_exporter']}/metrics"),
        "prometheus": lambda: services.http_ok(f"{u['prometheus']}/-/ready"),
    }


def service_states(state: StackState) -> dict[str, str]:
    """The state of every service (see :func:`service_state`)."""
    return {name: service_state(state, name) for name in ORDER}


def probe(state: StackState) -> dict[str, bool]:
    """Whether each recorded process is alive, not paused, and its endpoint answers."""
    return {name: condition == "up" for name, condition in service_states(state).items()}


def agent_client(state: StackState, timeout: float = 10.0) -> httpx.Client:
    """An HTTP client for the running agent."""
    return httpx.Client(base_url=state.url("agent"), timeout=timeout)
