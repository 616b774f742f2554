"""``chaoslab seed-audit`` and ``chaoslab inspect db`` against the running stack's PostgreSQL.

The stack is shared by the whole session: seeded rows carry the 'seed-' prefix and are
purged at the end, and every dropped index is recreated in a ``finally``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agent.audit.schema import INDEXES, TABLE
from chaos.inspect.plans import CRITICAL_QUERIES
from chaos.stack.state import StackState

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROWS = 100_000
SPECS = {i.name: i for i in INDEXES}


@pytest.fixture(scope="module")
def seeded(stack: StackState, chaoslab: Callable[..., Any]) -> Iterator[str]:
    """The stack's audit table with 100k seeded events (removed afterwards)."""
    dsn = stack.url("postgres")
    run = chaoslab("seed-audit", str(ROWS), "--json")
    assert run.code == 0, run.err
    result = run.json()
    print(f"\nseeded {result['inserted']} rows in {result['seconds']:.2f} s")
    assert result["inserted"] == ROWS and result["table_rows"] >= ROWS
    try:
        yield dsn
    finally:
        purged = chaoslab("seed-audit", "--purge", "--json")
        assert purged.code == 0, purged.err
        assert purged.json()["deleted"] == ROWS


@pytest.fixture
def drop_index(seeded: str) -> Iterator[Callable[[str], None]]:
    """Drop declared indexes for one test; they are recreated whatever happens."""
    dropped: list[str] = []

    def drop(name: str) -> None:
        with psycopg.connect(seeded, autocommit=True, connect_timeout=5) as conn:
            conn.execute("SET lock_timeout = '5s'")
            conn.execute(f"DROP INDEX {name}")
        dropped.append(name)

    try:
        yield drop
    finally:
        with psycopg.connect(seeded, autocommit=True, connect_timeout=5) as conn:
            for name in dropped:
                conn.execute(SPECS[name].ddl)


def checks(run: Any) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in run.json()["checks"]}


def test_seeded_rows_look_like_the_agents(seeded: str) -> None:
    with psycopg.connect(seeded, connect_timeout=5) as conn:
        kinds = dict(
            conn.execute(
                f"SELECT event_type, count(*) FROM {TABLE} "
                "WHERE starts_with(guest_id, 'seed-') GROUP BY 1"
            ).fetchall()
        )
        guests, bad = conn.execute(
            f"SELECT count(DISTINCT guest_id), count(*) FILTER (WHERE occurred_at > now()) "
            f"FROM {TABLE} WHERE starts_with(guest_id, 'seed-')"
        ).fetchone() or (0, 0)
        message = conn.execute(
            f"SELECT payload FROM {TABLE} WHERE starts_with(guest_id, 'seed-') "
            "AND event_type = 'message' LIMIT 1"
        ).fetchone()
    assert kinds == {
        "message": 94_000,
        "booking": 3_000,
        "late_checkout": 2_000,
        "escalation": 1_000,
    }
    assert guests == ROWS // 20 and bad == 0
    assert message is not None
    assert set(message[0]) == {"message_id", "language", "confidence", "degraded"}


def test_inspect_db_passes_on_the_shipped_schema_at_100k_rows(
    seeded: str, chaoslab: Callable[..., Any]
) -> None:
    run = chaoslab("inspect", "db", "--json")
    doc = run.json()
    for q in doc["queries"]:
        print(f"\n{q['name']:14s} {q['execution_ms']:8.3f} ms  {q['plan']}")
    assert run.code == 0, [c for c in doc["checks"] if c["status"] not in ("ok", "info")]
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
        "table",
        "indexes",
        "queries",
        "unused_indexes",
        "seq_scan_tables",
        "stats_reset",
    } <= set(doc)
    assert doc["command"] == "db" and doc["failed"] is False and doc["exit_code"] == 0
    assert doc["table"]["rows"] >= ROWS and doc["thresholds"] == {
        "max_ms": 100.0,
        "min_rows": 100_000,
    }
    assert {i["name"]: i["present"] and i["valid"] for i in doc["indexes"]} == dict.fromkeys(
        SPECS, True
    )
    assert [q["name"] for q in doc["queries"]] == [q.name for q in CRITICAL_QUERIES]
    for q in doc["queries"]:
        assert q["seq_scan"] is False and q["uses_expected_index"] is True, q["plan"]
        assert q["expected_index"] in q["plan"] and q["execution_ms"] > 0
        assert q["sql"].startswith("SELECT event_id, occurred_at")  # the agent's own page query
        assert checks(run)[f"query:{q['name']}"]["status"] == "ok"

    human = chaoslab("inspect", "db")
    assert human.code == 0 and human.out.startswith("chaoslab inspect db: PASSED")


def test_inspect_db_fails_naming_the_query_whose_index_was_dropped(
    drop_index: Callable[[str], None], chaoslab: Callable[..., Any]
) -> None:
    # Without its index the guest query falls back to a bitmap scan of the time index:
    # no Seq Scan and well under 100 ms at this size, yet it reads thousands of rows.
    drop_index("audit_logs_guest_occurred_idx")
    run = chaoslab("inspect", "db", "--json")
    assert run.code == 1
    c = checks(run)
    assert c["index:audit_logs_guest_occurred_idx"]["status"] == "critical"
    assert c["query:by_guest_time"]["status"] == "critical"
    assert "audit_logs_guest_occurred_idx is missing" in c["query:by_guest_time"]["detail"]
    assert {c[f"query:{n}"]["status"] for n in ("by_type_time", "newest_page", "keyset_page")} == {
        "ok"
    }
    guest = next(q for q in run.json()["queries"] if q["name"] == "by_guest_time")
    assert guest["rows_examined"] > 100 * guest["actual_rows"]

    human = chaoslab("inspect", "db")
    assert human.code == 1 and human.out.startswith("chaoslab inspect db: FAILED")
    line = next(x for x in human.out.splitlines() if x.startswith("query:by_guest_time"))
    assert "CRITICAL" in line


def test_inspect_db_reports_a_seq_scan_without_the_time_index(
    drop_index: Callable[[str], None], chaoslab: Callable[..., Any]
) -> None:
    drop_index("audit_logs_occurred_idx")
    run = chaoslab("inspect", "db", "--json", "--fail-on", "critical")
    assert run.code == 1
    c = checks(run)
    for name in ("newest_page", "keyset_page"):
        assert c[f"query:{name}"]["status"] == "critical"
        assert f"Seq Scan on {TABLE}" in c[f"query:{name}"]["detail"]
    assert any("needs audit_logs_occurred_idx" in r for r in run.json()["recommendations"])


def test_prometheus_output_parses(seeded: str, chaoslab: Callable[..., Any]) -> None:
    run = chaoslab("inspect", "db", "--prometheus")
    assert run.code == 0
    families = {f.name: f for f in text_string_to_metric_families(run.out)}
    times = {
        s.labels["query"]: s.value
        for s in families["chaoslab_inspect_db_query_execution_seconds"].samples
    }
    assert set(times) == {q.name for q in CRITICAL_QUERIES} and all(v > 0 for v in times.values())
    present = {
        s.labels["index"]: s.value for s in families["chaoslab_inspect_db_index_present"].samples
    }
    assert present == dict.fromkeys(SPECS, 1.0)
    assert families["chaoslab_inspect_failed"].samples[0].value == 0
