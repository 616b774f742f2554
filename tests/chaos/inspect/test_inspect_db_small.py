"""``inspect db`` and ``seed-audit`` on a database of their own: no table, a small table, drift."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from agent.audit.schema import TABLE

pytestmark = pytest.mark.integration


@pytest.fixture
def dsn(postgres_server: Any) -> str:
    return str(postgres_server.create_database("inspect_small"))


def test_a_missing_table_is_critical_and_says_how_to_create_it(
    dsn: str, chaoslab: Callable[..., Any]
) -> None:
    run = chaoslab("inspect", "db", "--json", "--postgres-url", dsn)
    doc = run.json()
    assert run.code == 1 and doc["table"] == {"name": TABLE, "exists": False}
    table = next(c for c in doc["checks"] if c["name"] == "table")
    assert table["status"] == "critical" and "python -m agent.audit migrate" in table["detail"]


def test_small_tables_are_not_judged_and_seeding_is_reversible(
    dsn: str, chaoslab: Callable[..., Any]
) -> None:
    seed = chaoslab("seed-audit", "1000", "--postgres-url", dsn, "--prefix", "tiny-", "--json")
    assert seed.code == 0, seed.err
    assert seed.json()["inserted"] == 1000 and seed.json()["table_rows"] == 1000

    run = chaoslab("inspect", "db", "--json", "--postgres-url", dsn)
    doc = run.json()
    statuses = {c["name"]: c["status"] for c in doc["checks"]}
    assert run.code == 0 and statuses["table"] == "info"
    assert {statuses[f"query:{q['name']}"] for q in doc["queries"]} == {"skipped"}
    assert any("chaoslab seed-audit 100000" in r for r in doc["recommendations"])
    # The floor is a flag: judged at 1000 rows, the shipped indexes pass.
    judged = chaoslab("inspect", "db", "--json", "--postgres-url", dsn, "--min-rows", "1000")
    assert judged.code == 0
    assert {c["status"] for c in judged.json()["checks"] if c["name"].startswith("query:")} == {
        "ok"
    }

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"INSERT INTO {TABLE} (event_id, occurred_at, event_type, guest_id, channel)"
            " VALUES ('real-1', now(), 'message', 'tiny-guest-x', 'api')"
        )
    purge = chaoslab("seed-audit", "--purge", "--prefix", "tiny-", "--postgres-url", dsn)
    assert purge.code == 0 and purge.out.startswith("deleted 1000 seeded events")
    with psycopg.connect(dsn) as conn:
        left = conn.execute(f"SELECT event_id FROM {TABLE}").fetchall()
    assert left == [("real-1",)]  # a real event whose guest id shares the prefix stays


def test_an_index_on_other_columns_is_reported(dsn: str, chaoslab: Callable[..., Any]) -> None:
    assert chaoslab("seed-audit", "10", "--postgres-url", dsn).code == 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP INDEX audit_logs_type_occurred_idx")
        conn.execute(f"CREATE INDEX audit_logs_type_occurred_idx ON {TABLE} (event_type)")
    run = chaoslab("inspect", "db", "--json", "--postgres-url", dsn)
    check = next(
        c for c in run.json()["checks"] if c["name"] == "index:audit_logs_type_occurred_idx"
    )
    assert check["status"] == "warning" and "(event_type)" in check["detail"] and run.code == 1
    assert chaoslab("inspect", "db", "--postgres-url", dsn, "--fail-on", "critical").code == 0
