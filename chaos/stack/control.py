"""Process faults on the native stack: kill, pause, resume, stop, restart, ensure_running.

Each function finds the service's process through the state file (the pid ``up``
recorded, checked against its start time so a reused pid is never signalled), acts on
the whole process tree (``chaos.stack.ptree``), and verifies the effect before returning:
every process gone after ``kill``, every process stopped (``T`` in /proc) after
``pause``, none stopped after ``resume``, and after ``restart`` or ``ensure_running``
the same readiness check ``chaoslab up`` waits for. A failed check raises StackError.

What the faults do, per service (to the server and every child it forked):

- agent. Pause: the kernel still accepts connections but nothing answers, so guests'
  requests hang until their timeout. Kill: acknowledged audit events not yet in
  PostgreSQL wait in the fsynced fallback file; the next start replays them once.
- redis. Pause: commands hang and the agent's socket timeout fires (sessions, cache).
  Kill: keys survive, the append-only file is reloaded on the next start.
- postgres. Pause: the postmaster and every backend stop, so pooled connections hang
  mid-query and new ones hang in the handshake (each backend runs in a session of its
  own, so neither the postmaster alone nor its process group would do). Kill: a
  crash; the next start replays the WAL and keeps every acknowledged commit.
- pms. Pause: requests hang, the agent's PMS timeout fires and its breaker opens.
  Kill: bookings made since the start are lost (the simulator keeps them in memory);
  rooms and rates are the same after the restart.
- proxy. Pause: every proxied dependency and the proxy API hang at once. Kill: toxics
  and proxies changed at run time are lost; it restarts from its config file.
- alert_sink, alertmanager, prometheus, the exporters: pause and kill are supported the
  same way; Prometheus and Alertmanager keep their data folders.

``stop`` and ``restart`` are graceful (SIGTERM; PostgreSQL's fast shutdown with SIGINT),
with SIGKILL after a timeout. No dependant has to follow a restart: the agent, the exporters and the
proxy open new connections to a restarted service on their next request.

The docker-compose stack runs the same services; :func:`compose_commands` gives the
``docker compose`` command lines for the same operations.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from pathlib import Path

from chaos.exceptions import StackError
from chaos.paths import CHECKOUT as REPO_ROOT
from chaos.stack import native
from chaos.stack.ptree import alive, signal_tree, stopped, tree, wait_for
from chaos.stack.state import StackState, discover

ACTIONS = ("kill", "pause", "resume", "stop", "restart", "ensure_running")
# docker-compose.yml's service name for each native service.
COMPOSE_SERVICES = {
    "agent": "agent",
    "redis": "redis",
    "postgres": "postgres",
    "pms": "pms-simulator",
    "nlu": "nlu",
    "stt": "stt",
    "proxy": "toxiproxy",
    "alert_sink": "alert-sink",
    "alertmanager": "alertmanager",
    "prometheus": "prometheus",
    "redis_exporter": "redis-exporter",
    "postgres_exporter": "postgres-exporter",
}
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"


@dataclass(frozen=True)
class Outcome:
    """What an operation did: the pids it signalled (or started) and how long it took."""

    service: str
    action: str  # killed, paused, resumed, restarted, started, running
    pids: tuple[int, ...]
    seconds: float


def _load(state_file: Path | None) -> StackState:
    return discover(state_file)


def _live(state: StackState, service: str) -> int:
    native.check_service(service)
    pid = state.live_pid(service)
    if pid is None:
        raise StackError(f"{service} is not running (run `chaoslab up` to bring it back)")
    return pid


def kill(service: str, state_file: Path | None = None, timeout: float = 10.0) -> Outcome:
    """SIGKILL the service and its children; returns once every one of them is gone."""
    began = time.monotonic()
    pid = _live(_load(state_file), service)
    victims = signal_tree(pid, signal.SIGKILL)
    if not wait_for(lambda: not alive(victims), timeout):
        raise StackError(f"{service} survived SIGKILL: pids {alive(victims)} still run")
    return Outcome(service, "killed", tuple(victims), time.monotonic() - began)


def pause(service: str, state_file: Path | None = None, timeout: float = 5.0) -> Outcome:
    """SIGSTOP the service and its children; returns once every one of them is stopped."""
    began = time.monotonic()
    pid = _live(_load(state_file), service)
    members = signal_tree(pid, signal.SIGSTOP)

    def all_stopped() -> bool:
        found = tree(pid)
        return bool(found) and all(stopped(stat) for stat in found.values())

    if not wait_for(all_stopped, timeout):
        raise StackError(f"{service} did not stop: {_states(pid)}")
    return Outcome(service, "paused", tuple(members), time.monotonic() - began)


def resume(service: str, state_file: Path | None = None, timeout: float = 5.0) -> Outcome:
    """SIGCONT the service and its children; returns once none of them is stopped."""
    began = time.monotonic()
    pid = _live(_load(state_file), service)
    members = signal_tree(pid, signal.SIGCONT)

    def none_stopped() -> bool:
        return not any(stopped(stat) for stat in tree(pid).values())

    if not wait_for(none_stopped, timeout):
        raise StackError(f"{service} did not resume: {_states(pid)}")
    return Outcome(service, "resumed", tuple(members), time.monotonic() - began)


def stop(service: str, state_file: Path | None = None, timeout: float = 10.0) -> Outcome:
    """Stop the service gracefully (SIGKILL after ``timeout``); returns once it is gone.

    ``ensure_running`` (or ``chaoslab up``) starts it again with its data.
    """
    began = time.monotonic()
    state = _load(state_file)
    pid = _live(state, service)
    members = tree(pid)
    native.stop_service(state, service, timeout)
    if alive(members):
        raise StackError(f"{service} did not stop: pids {alive(members)} still run")
    return Outcome(service, "stopped", tuple(members), time.monotonic() - began)


def _states(pid: int) -> str:
    return ", ".join(f"pid {member} {stat.state}" for member, stat in tree(pid).items())


def restart(service: str, state_file: Path | None = None, timeout: float = 10.0) -> Outcome:
    """Stop the service gracefully (SIGKILL after ``timeout``), start it, wait until ready.

    A service that is not running is simply started. Its data folder is kept.
    """
    began = time.monotonic()
    native.check_service(service)
    state = _load(state_file)
    was_running = state.live_pid(service) is not None
    proc = native.restart_service(state, service, timeout)
    assert proc.pid is not None
    action = "restarted" if was_running else "started"
    return Outcome(service, action, (proc.pid,), time.monotonic() - began)


def ensure_running(service: str, state_file: Path | None = None) -> Outcome:
    """Leave a healthy service alone; resume a paused one; restart a dead or mute one."""
    began = time.monotonic()
    native.check_service(service)
    state = _load(state_file)
    condition = native.service_state(state, service)
    if condition == "not answering" and native.answers_within(state, service):
        condition = "up"  # slow, not dead
    if condition == "up":
        return Outcome(service, "running", (state.pids[service],), time.monotonic() - began)
    if condition == "paused":
        outcome = resume(service, state_file)
        if native.answers_within(state, service):
            return Outcome(service, "resumed", outcome.pids, time.monotonic() - began)
    proc = native.restart_service(state, service)
    assert proc.pid is not None
    return Outcome(service, "restarted", (proc.pid,), time.monotonic() - began)


def compose_commands(
    action: str, service: str, compose_file: Path = COMPOSE_FILE, timeout: int = 10
) -> list[list[str]]:
    """The ``docker compose`` command lines doing ``action`` to ``service`` there.

    ``pause`` freezes every process of the container (the cgroup freezer), like the
    tree SIGSTOP here. ``restart`` and ``ensure_running`` end with ``up --wait``, which
    returns once the service's healthcheck passes, as the native readiness checks do.
    Unlike the native ``ensure_running``, ``up`` does not unpause a paused container
    (and ``unpause`` fails on one that is not paused): call ``resume`` for that.
    """
    native.check_service(service)
    if action not in ACTIONS:
        raise StackError(f"no action named {action!r}; the actions are {', '.join(ACTIONS)}")
    name = COMPOSE_SERVICES[service]
    base = ["docker", "compose", "-f", str(compose_file)]
    wait = [*base, "up", "--detach", "--no-deps", "--wait", name]
    return {
        "kill": [[*base, "kill", "--signal", "SIGKILL", name]],
        "pause": [[*base, "pause", name]],
        "resume": [[*base, "unpause", name]],
        "stop": [[*base, "stop", "--timeout", str(timeout), name]],
        "restart": [[*base, "restart", "--timeout", str(timeout), name], wait],
        "ensure_running": [wait],
    }[action]
