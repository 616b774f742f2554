"""Every process fault on every service it applies to, through the experiments' scheduler
on the live native stack: the effect seen by a real client over TCP while the fault
holds, the service back (running, answering, its data kept) after the step and after a
rollback in the middle of it. Run with ``-s`` for each service's recovery time.

The scheduler is advanced by hand (``tick``), so every check happens while the fault
is held, however slow the machine.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import httpx
import psycopg
import pytest
import redis

from chaos.faults import Fault, FaultWindow
from chaos.processfaults import PROCESS_SERVICES
from chaos.scheduler import FaultScheduler
from chaos.stack import control, native
from chaos.stack.native import ORDER
from chaos.stack.state import StackState
from chaos.toxiproxy import ToxiproxyClient

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.slow]

TIMES: list[tuple[str, str, float]] = []


@pytest.fixture(autouse=True)
def healthy_after(stack: StackState) -> Iterator[None]:
    """Each test leaves every service of the session's stack running and answering."""
    yield
    for name in ORDER:
        control.ensure_running(name, native.settings_of(stack).state_file)


def current(stack: StackState) -> StackState:
    return StackState.load(native.settings_of(stack).state_file)


def answers(stack: StackState, service: str) -> bool:
    """One real request to the service, 1 s at most: does it answer?"""
    try:
        if service == "redis":
            return bool(redis.Redis.from_url(stack.url("redis"), socket_timeout=1).ping())
        if service == "postgres":
            with psycopg.connect(stack.url("postgres"), connect_timeout=1) as conn:
                return conn.execute("SELECT 1").fetchone() == (1,)
        path = "/health/live" if service == "agent" else "/health"
        return httpx.get(f"{stack.url(service)}{path}", timeout=1).status_code == 200
    except (redis.RedisError, psycopg.Error, httpx.HTTPError):
        return False


def keep_data(stack: StackState) -> Callable[[], bool]:
    """Write a Redis key and a PostgreSQL row; the check that both are still there."""
    key, value = f"pf:{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    redis.Redis.from_url(stack.url("redis"), socket_timeout=5).set(key, value)
    with psycopg.connect(stack.url("postgres"), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS pf_rows (v text)")
        conn.execute("INSERT INTO pf_rows VALUES (%s)", (value,))

    def kept() -> bool:
        stored = redis.Redis.from_url(stack.url("redis"), socket_timeout=5).get(key)
        with psycopg.connect(stack.url("postgres"), connect_timeout=5) as conn:
            row = conn.execute("SELECT count(*) FROM pf_rows WHERE v = %s", (value,)).fetchone()
        return stored == value.encode() and row == (1,)

    return kept


def scheduler(stack: StackState, fault: Fault, end_s: float = 10.0) -> FaultScheduler:
    client = ToxiproxyClient(stack.url("proxy_api"))
    return FaultScheduler(client, [FaultWindow(0, end_s, fault)], stack=stack)


@pytest.mark.parametrize("service", PROCESS_SERVICES)
def test_kill_then_restart_at_the_end_of_the_step(stack: StackState, service: str) -> None:
    kept = keep_data(stack)
    before = current(stack).pids[service]
    faults = scheduler(stack, Fault("", "kill", service=service))
    faults.tick(0)
    assert not answers(stack, service), f"{service} answered while killed"
    assert native.service_state(current(stack), service) == "down"
    faults.tick(10)
    record = faults.records[0]
    assert record.removed_ok, record.removal_detail
    assert answers(stack, service) and current(stack).pids[service] != before
    assert kept(), f"data lost when {service} was killed"
    assert record.recovered_at and record.recovery_requested_at
    TIMES.append((service, "kill -> ready", record.recovered_at - record.recovery_requested_at))


@pytest.mark.parametrize("service", PROCESS_SERVICES)
def test_pause_hangs_and_resume_answers(stack: StackState, service: str) -> None:
    before = current(stack).pids[service]
    faults = scheduler(stack, Fault("", "pause", {"resume_after_ms": 5000}, service=service))
    faults.tick(0)
    assert native.service_state(current(stack), service) == "paused"
    assert not answers(stack, service), f"{service} answered while paused"
    faults.tick(5)  # the planned resume
    assert faults.records[0].recovered_at is not None
    assert answers(stack, service)
    faults.tick(10)
    assert faults.records[0].removed_ok, faults.records[0].removal_detail
    assert current(stack).pids[service] == before  # the same process, resumed


@pytest.mark.parametrize("service", PROCESS_SERVICES)
def test_graceful_restart_keeps_the_data(stack: StackState, service: str) -> None:
    kept = keep_data(stack)
    before = current(stack).pids[service]
    faults = scheduler(stack, Fault("", "restart", {"restart_after_ms": 1000}, service=service))
    faults.tick(0)
    assert not answers(stack, service), f"{service} answered while stopped"
    faults.tick(1)
    record = faults.records[0]
    assert record.recovered_at is not None and answers(stack, service)
    assert current(stack).pids[service] != before
    faults.tick(10)
    assert record.removed_ok, record.removal_detail
    assert kept(), f"data lost when {service} was restarted"
    assert record.started_at and record.start_requested_at and record.recovery_requested_at
    TIMES.append((service, "graceful stop", record.started_at - record.start_requested_at))
    TIMES.append((service, "start -> ready", record.recovered_at - record.recovery_requested_at))


@pytest.mark.parametrize(("service", "ftype"), [("postgres", "kill"), ("pms", "pause")])
def test_a_rollback_mid_fault_brings_the_service_back(
    stack: StackState, service: str, ftype: str
) -> None:
    faults = scheduler(stack, Fault("", ftype, service=service), end_s=60)
    faults.tick(0)
    assert not answers(stack, service)
    faults.restore()  # what an abort, an error or Ctrl-C does
    assert faults.finished and faults.records[0].removed_ok
    assert native.service_state(current(stack), service) == "up"
    assert answers(stack, service)


def test_zz_print_recovery_times() -> None:
    """Printed with -s: measured on the machine that runs the suite."""
    print("\nservice    what              seconds")
    for service, what, seconds in TIMES:
        print(f"{service:<10} {what:<16}  {seconds:6.2f}")
