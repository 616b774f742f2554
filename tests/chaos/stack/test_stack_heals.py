"""Process faults on a live native stack, and ``chaoslab up`` healing them.

The stack is started with the real command line on free ports (so its servers are not
children of the test process, as for a user), faults come from ``chaos.stack.control``,
and every check is a real client over TCP: Redis keys, PostgreSQL rows, the agent's
answers and its audit trail. Run with ``-s`` to see the restart time of each service.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
import redis

from chaos.stack import control
from chaos.stack.config import Ports
from chaos.stack.native import ORDER, postgres_dir
from chaos.stack.processes import free_port
from chaos.stack.state import StackState
from chaos.toxiproxy import ToxiproxyClient

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.slow]

KILLED = ("redis", "postgres", "pms", "proxy", "agent")


@dataclass
class Lab:
    env: dict[str, str]
    state_file: Path

    @property
    def state(self) -> StackState:
        return StackState.load(self.state_file)

    def url(self, name: str) -> str:
        return self.state.url(name)

    def chaoslab(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "chaos.cli", *args],
            env={**self.env, **env},
            text=True,
            capture_output=True,
            timeout=240,
            check=False,
        )


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    state_dir = Path(tempfile.mkdtemp(prefix="hcl-heal-"))
    env = {**os.environ, "CHAOSLAB_STATE_DIR": str(state_dir)}
    env.pop("CHAOSLAB_STATE_FILE", None)  # the session stack's, when the whole suite runs
    for name in Ports.model_fields:
        env[f"CHAOSLAB_PORTS__{name.upper()}"] = str(free_port())
    lab = Lab(env, state_dir / "stack.json")
    started = lab.chaoslab("up")
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield lab
    finally:
        lab.chaoslab("down")
        shutil.rmtree(postgres_dir(state_dir), ignore_errors=True)
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(autouse=True)
def healthy_after(lab: Lab) -> Iterator[None]:
    """Each test leaves every service running and answering, whatever it did."""
    yield
    for name in ORDER:
        control.ensure_running(name, lab.state_file)


def say(lab: Lab, guest: str, text: str = "¿Dónde están ubicados?") -> dict[str, object]:
    reply = httpx.post(
        f"{lab.url('agent')}/api/v1/messages", json={"guest_id": guest, "text": text}, timeout=20
    )
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def audit_messages(lab: Lab, guests: list[str]) -> int:
    """Audit rows of type message for ``guests``, read from PostgreSQL directly."""
    with psycopg.connect(lab.url("postgres"), connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT count(*) FROM audit_logs WHERE event_type = 'message' AND guest_id = ANY(%s)",
            (guests,),
        ).fetchone()
    return int(row[0]) if row else 0


def eventually(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.3)
    return bool(check())


def test_up_brings_back_each_killed_service_with_its_data(lab: Lab) -> None:
    keys = redis.Redis.from_url(lab.url("redis"), socket_timeout=5)
    keys.set("heal:kept", "yes")
    with psycopg.connect(lab.url("postgres"), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS heal_rows (n int)")
        conn.execute("INSERT INTO heal_rows SELECT generate_series(1, 3)")
    for name in KILLED:
        killed = control.kill(name, lab.state_file)
        assert killed.pids and killed.action == "killed"
        status = lab.chaoslab("status", "--json")
        assert status.returncode == 1
        assert json.loads(status.stdout)["states"][name] == "down"

        up = lab.chaoslab("up")
        assert up.returncode == 0, up.stderr
        assert f"{name} " in up.stdout and "it had died" in up.stdout, up.stdout
        assert lab.chaoslab("status").returncode == 0

        assert keys.get("heal:kept") == b"yes", f"Redis lost its key when {name} was killed"
        with psycopg.connect(lab.url("postgres"), connect_timeout=5) as conn:
            assert conn.execute("SELECT count(*) FROM heal_rows").fetchone() == (3,)
        # Nothing else had to be restarted: the agent reaches every dependency again
        # and its audit event lands in PostgreSQL.
        guest = f"heal-{name}-{uuid.uuid4().hex[:6]}"
        assert eventually(lambda g=guest: not say(lab, g)["degraded"]), name
        assert eventually(lambda g=guest: audit_messages(lab, [g]) >= 1), name


def test_agent_killed_with_pending_fallback_events_replays_them_once(lab: Lab) -> None:
    fallback = Path(lab.state.fallback_path)
    guests = [f"fallback-{uuid.uuid4().hex[:8]}" for _ in range(20)]
    with ToxiproxyClient(lab.url("proxy_api")) as proxies:
        proxies.set_enabled("postgres", False)
        try:
            for guest in guests:
                say(lab, guest)
            pending = fallback.read_text()
            assert all(guest in pending for guest in guests), "events not in the fallback file"
            assert audit_messages(lab, guests) == 0
            control.kill("agent", lab.state_file)
            up = lab.chaoslab("up")
            assert up.returncode == 0 and "agent" in up.stdout, up.stdout + up.stderr
        finally:
            proxies.set_enabled("postgres", True)
    assert eventually(lambda: audit_messages(lab, guests) >= len(guests), timeout=60)
    time.sleep(3)  # a few more replay rounds: nothing may be written twice
    assert audit_messages(lab, guests) == len(guests)


def test_pause_hangs_clients_and_resume_answers(lab: Lab) -> None:
    # Redis: a command times out while paused.
    keys = redis.Redis.from_url(lab.url("redis"), socket_timeout=1)
    keys.ping()
    control.pause("redis", lab.state_file)
    assert json.loads(lab.chaoslab("status", "--json").stdout)["states"]["redis"] == "paused"
    with pytest.raises(redis.TimeoutError):
        keys.ping()
    control.resume("redis", lab.state_file)
    assert redis.Redis.from_url(lab.url("redis"), socket_timeout=5).ping()

    # PostgreSQL: an open connection's query hangs (its backend is stopped too), and a
    # new connection hangs in the handshake.
    conn = psycopg.connect(lab.url("postgres"), autocommit=True)
    conn.execute("SELECT 1")
    control.pause("postgres", lab.state_file)
    result: list[object] = []
    query = threading.Thread(target=lambda: result.append(conn.execute("SELECT 42").fetchone()))
    query.start()
    query.join(1.5)
    assert query.is_alive() and not result, "a query was answered by a paused PostgreSQL"
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(lab.url("postgres"), connect_timeout=2)
    control.resume("postgres", lab.state_file)
    query.join(10)
    assert result == [(42,)]
    conn.close()

    # HTTP services: the kernel accepts the connection, nobody answers.
    for name, path in (("pms", "/health"), ("agent", "/health/live")):
        control.pause(name, lab.state_file)
        with pytest.raises(httpx.TimeoutException):
            httpx.get(f"{lab.url(name)}{path}", timeout=1)
        control.resume(name, lab.state_file)
        assert httpx.get(f"{lab.url(name)}{path}", timeout=10).status_code == 200


def test_up_resumes_a_paused_service(lab: Lab) -> None:
    control.pause("pms", lab.state_file)
    assert lab.chaoslab("status").returncode == 1
    up = lab.chaoslab("up")
    assert up.returncode == 0 and "pms" in up.stdout and "resumed" in up.stdout, up.stdout
    assert httpx.get(f"{lab.url('pms')}/health", timeout=5).status_code == 200


def test_up_names_the_service_it_cannot_bring_back(lab: Lab) -> None:
    port = int(lab.env["CHAOSLAB_PORTS__PMS"])
    control.kill("pms", lab.state_file)
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        up = lab.chaoslab("up")
    assert up.returncode == 2
    assert up.stderr.count("\n") == 1, up.stderr
    assert f"pms cannot be brought back: port {port} is in use" in up.stderr
    healed = lab.chaoslab("up")
    assert healed.returncode == 0 and "pms" in healed.stdout, healed.stdout + healed.stderr


def test_restart_command(lab: Lab) -> None:
    keys = redis.Redis.from_url(lab.url("redis"), socket_timeout=5)
    keys.set("heal:restart", "kept")
    before = lab.state.pids["redis"]
    # Like up, status and down, restart acts on the stack of CHAOSLAB_STATE_DIR.
    result = lab.chaoslab("restart", "redis", CHAOSLAB_STATE_FILE="/nonexistent/stack.json")
    assert result.returncode == 0, result.stderr
    assert "redis restarted in" in result.stdout
    assert lab.state.pids["redis"] != before
    assert keys.get("heal:restart") == b"kept"
    unknown = lab.chaoslab("restart", "mysql")
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1
    assert "no service named 'mysql'" in unknown.stderr


def test_restart_times(lab: Lab) -> None:
    """Graceful restart and kill-then-back time of every service (printed with -s)."""
    rows = []
    for name in ORDER:
        restarted = control.restart(name, lab.state_file)
        assert restarted.action == "restarted"
        control.kill(name, lab.state_file)
        back = control.ensure_running(name, lab.state_file)
        assert back.action == "restarted"
        rows.append((name, restarted.seconds, back.seconds))
    assert lab.chaoslab("status").returncode == 0
    print("\nservice             restart (s)  kill -> ready (s)")
    for name, graceful, after_kill in rows:
        print(f"{name:<18}  {graceful:11.2f}  {after_kill:17.2f}")
