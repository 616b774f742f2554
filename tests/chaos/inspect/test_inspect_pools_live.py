"""``chaoslab inspect pools`` sees the connections a test holds open, and gates on them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from agent.settings import DatabaseSettings, RedisSettings
from chaos.stack.state import StackState

pytestmark = pytest.mark.integration

HELD = 4
REDIS_HELD = 5


@pytest.fixture
def held(stack: StackState) -> Iterator[dict[str, int]]:
    """Idle PostgreSQL connections, one idle in transaction, and open Redis clients."""
    dsn = stack.url("postgres")
    conns = [
        psycopg.connect(dsn, connect_timeout=5, application_name="inspect-held")
        for _ in range(HELD)
    ]
    for c in conns:
        c.execute("SELECT 1")
        c.commit()
    tx = psycopg.connect(dsn, connect_timeout=5, application_name="inspect-held-tx")
    tx.execute("SELECT 1")  # opens a transaction and leaves it open: idle in transaction
    row = tx.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    clients = [
        redis.Redis.from_url(stack.url("redis"), socket_timeout=5) for _ in range(REDIS_HELD)
    ]
    for c in clients:
        c.ping()
    time.sleep(1.2)  # the open transaction is now older than the 1 s threshold used below
    try:
        yield {"tx_pid": row[0]}
    finally:
        tx.rollback()
        tx.close()
        for conn in conns:
            conn.close()
        for c in clients:
            c.close()


def inspect_redis_clients(chaoslab: Callable[..., Any]) -> int:
    return int(chaoslab("inspect", "pools", "--json").json()["redis"]["connected_clients"])


def test_reports_the_connections_a_test_holds_open(
    stack: StackState, chaoslab: Callable[..., Any], request: pytest.FixtureRequest
) -> None:
    redis_before = inspect_redis_clients(chaoslab)
    held = request.getfixturevalue("held")
    run = chaoslab("inspect", "pools", "--json", "--long-query-seconds", "1")
    doc = run.json()
    assert {
        "command",
        "generated_at",
        "status",
        "failed",
        "exit_code",
        "targets",
        "checks",
        "recommendations",
        "thresholds",
        "postgres",
        "agent",
        "redis",
    } <= set(doc)
    pg = doc["postgres"]
    groups = {(a["application_name"], a["state"]): a["count"] for a in pg["by_application"]}
    assert groups[("inspect-held", "idle")] == HELD
    assert groups[("inspect-held-tx", "idle in transaction")] == 1
    assert pg["by_state"]["idle"] >= HELD and pg["connections"] >= HELD + 1
    assert pg["max_connections"] == 100 and pg["ratio"] == pg["connections"] / 100
    assert ("chaoslab-inspect", "active") not in groups  # the inspection leaves itself out
    slow = {s["pid"]: s for s in pg["long_running"]}
    assert slow[held["tx_pid"]]["state"] == "idle in transaction"
    assert slow[held["tx_pid"]]["application_name"] == "inspect-held-tx"
    # The open transaction crossed the 1 s threshold: a warning, exit 1.
    checks = {c["name"]: c for c in doc["checks"]}
    assert checks["pg_long_running"]["status"] == "warning" and run.code == 1
    assert str(held["tx_pid"]) in checks["pg_long_running"]["detail"]
    assert any("idle in transaction" in r for r in doc["recommendations"])

    # Prometheus may open one short scrape connection either side: allow one of slack.
    assert doc["redis"]["connected_clients"] - redis_before >= REDIS_HELD - 1
    assert doc["redis"]["maxclients"] > 0 and doc["redis"]["blocked_clients"] == 0

    audit = doc["agent"]["db_pools"]["audit"]
    assert audit["max"] == DatabaseSettings().pool_max
    assert audit["size"] == audit["in_use"] + audit["available"] >= 1
    assert audit["waiting"] == 0
    assert doc["agent"]["redis_pool"]["max"] == RedisSettings().max_connections
    assert checks["agent_db_pool:audit"]["status"] == "ok"
    assert checks["agent_redis_pool"]["status"] == "ok"


def test_utilisation_thresholds_gate_the_exit_code(
    held: dict[str, int], chaoslab: Callable[..., Any]
) -> None:
    # At least HELD + 1 of 100 connections are in use: above a 3 % warning, 5 % critical.
    run = chaoslab(
        "inspect",
        "pools",
        "--json",
        "--warn-percent",
        "3",
        "--critical-percent",
        "5",
        "--fail-on",
        "critical",
    )
    check = {c["name"]: c for c in run.json()["checks"]}["pg_connections"]
    assert check["status"] == "critical" and run.code == 1
    assert check["threshold"] == 0.03
    relaxed = chaoslab("inspect", "pools", "--json", "--fail-on", "critical")
    assert relaxed.code == 0  # the long transaction is only a warning
    human = chaoslab("inspect", "pools")
    assert "inspect-held" in human.out and "idle in transaction" in human.out


def test_prometheus_output_parses(stack: StackState, chaoslab: Callable[..., Any]) -> None:
    run = chaoslab("inspect", "pools", "--prometheus")
    families = {f.name: f for f in text_string_to_metric_families(run.out)}
    pool = {
        s.labels["state"]: s.value
        for s in families["chaoslab_inspect_agent_db_pool_connections"].samples
    }
    assert set(pool) == {"in_use", "available"}
    assert families["chaoslab_inspect_pg_max_connections"].samples[0].value == 100
    assert families["chaoslab_inspect_redis_connected_clients"].samples[0].value >= 1
    assert families["chaoslab_inspect_failed"].samples[0].value == float(run.code)
