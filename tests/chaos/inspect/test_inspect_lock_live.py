"""Troubleshooting walk-through: a forgotten transaction locks audit_logs.

Inserts time out, the audit breaker opens, events pile up in the fallback file and the
replay cannot drain it. ``chaoslab inspect pools`` names the session responsible; ending
its transaction lets the fallback drain with no event lost. The stack is left as found:
breaker closed, fallback empty.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest

from agent.audit.schema import TABLE
from chaos.metrics import scrape
from chaos.stack.state import StackState

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MESSAGES = 6  # more than the breaker's 5 failures


def agent_metric(stack: StackState, name: str) -> float:
    return scrape(stack.url("agent")).total(name) or 0.0


def wait_for(predicate: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return predicate()


def test_inspect_pools_names_the_session_that_keeps_the_fallback_from_draining(
    stack: StackState, chaoslab: Callable[..., Any]
) -> None:
    dsn = stack.url("postgres")
    guest = f"inspect-lock-{uuid.uuid4().hex[:8]}"
    holder = psycopg.connect(dsn, connect_timeout=5, application_name="inspect-lock-holder")
    waiter_done = threading.Event()

    def wait_for_lock() -> None:
        with psycopg.connect(
            dsn,
            connect_timeout=5,
            application_name="inspect-lock-waiter",
            options="-c lock_timeout=30000",
        ) as conn:
            conn.execute(f"LOCK TABLE {TABLE} IN ROW EXCLUSIVE MODE")
            conn.rollback()
        waiter_done.set()

    waiter = threading.Thread(target=wait_for_lock, daemon=True)
    try:
        holder_pid = holder.info.backend_pid
        holder.execute(f"LOCK TABLE {TABLE} IN SHARE MODE")  # and never commits
        waiter.start()
        with httpx.Client(base_url=stack.url("agent"), timeout=10) as client:
            for _ in range(MESSAGES):
                r = client.post(
                    "/api/v1/messages",
                    json={"guest_id": guest, "text": "Hola", "message_id": uuid.uuid4().hex},
                )
                assert r.status_code == 200  # the guest still gets a reply
        assert wait_for(lambda: agent_metric(stack, "audit_circuit_breaker_state") == 1, 5)
        assert agent_metric(stack, "audit_fallback_pending") >= 1
        time.sleep(1.1)  # older than the 1 s threshold below

        run = chaoslab("inspect", "pools", "--json", "--long-query-seconds", "1")
        doc = run.json()
        assert run.code == 1
        culprit = {s["pid"]: s for s in doc["postgres"]["long_running"]}[holder_pid]
        assert culprit["state"] == "idle in transaction"
        assert culprit["application_name"] == "inspect-lock-holder"
        assert culprit["query"].startswith("LOCK TABLE audit_logs")
        waits = {w["application_name"]: w for w in doc["postgres"]["lock_waits"]}
        assert waits["inspect-lock-waiter"]["blocked_by"] == [holder_pid]
        assert any(f"pid {holder_pid} blocks" in r for r in doc["recommendations"])
        human = chaoslab("inspect", "pools", "--long-query-seconds", "1")
        assert "Waiting for a lock now" in human.out and "inspect-lock-holder" in human.out
    finally:
        holder.rollback()
        holder.close()
        waiter.join(10)
    assert waiter_done.is_set()
    # With the transaction gone the replay drains the file and the breaker closes.
    assert wait_for(lambda: agent_metric(stack, "audit_fallback_pending") == 0, 30)
    assert wait_for(lambda: agent_metric(stack, "audit_circuit_breaker_state") == 0, 15)
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        stored = conn.execute(
            f"SELECT count(*) FROM {TABLE} WHERE guest_id = %s AND event_type = 'message'",
            (guest,),
        ).fetchone()
    assert stored == (MESSAGES,)
