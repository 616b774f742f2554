"""100k audit rows: every query shape the admin API sends uses its declared index."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from agent.audit import AuditLog, AuditQuery
from agent.audit.schema import INDEXES, TABLE
from agent.metrics import AgentMetrics

pytestmark = pytest.mark.integration

ROWS = 100_000
START = datetime(2026, 1, 1, tzinfo=UTC)

# One row per second; 5000 guests; 94 % messages, 3 % bookings, 2 % late checkouts, 1 %
# escalations. event_id is md5(i): random order, unlike the time order.
FILL = f"""
INSERT INTO {TABLE} (event_id, occurred_at, event_type, guest_id, session_id, channel,
                     intent, payload)
SELECT md5(i::text),
       timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second',
       CASE WHEN i % 100 = 0 THEN 'escalation' WHEN i % 100 < 4 THEN 'booking'
            WHEN i % 100 < 6 THEN 'late_checkout' ELSE 'message' END,
       'guest-' || (i % 5000), 's-' || (i % 5000), 'whatsapp', 'greeting',
       jsonb_build_object('i', i, 'text', repeat('x', 80))
FROM generate_series(0, {ROWS - 1}) AS i
"""


@pytest.fixture(scope="module")
def bulk_dsn(audit_db: str) -> str:
    with psycopg.connect(audit_db, autocommit=True) as conn:
        from agent.audit.schema import ddl_statements

        for statement in ddl_statements():
            conn.execute(statement)
        t0 = time.perf_counter()
        conn.execute(FILL)
        conn.execute(f"VACUUM ANALYZE {TABLE}")
        print(f"\nfilled {ROWS} rows with generate_series in {time.perf_counter() - t0:.2f} s")
    return audit_db


@pytest.fixture
async def audit(tmp_path, bulk_dsn, make_audit_settings, make_db_settings):
    log = AuditLog(
        make_audit_settings(tmp_path / "fb.jsonl"), make_db_settings(bulk_dsn), AgentMetrics()
    )
    await log.start()
    yield log
    await log.stop()


def plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes += plan_nodes(child)
    return nodes


def explain(dsn: str, sql: str, params: list[Any]) -> tuple[list[dict[str, Any]], float]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params).fetchone()
    assert row is not None
    doc = row[0][0]
    return plan_nodes(doc["Plan"]), doc["Execution Time"]


CURSOR_AT = START + timedelta(seconds=50_000)
SHAPES = {
    "newest first": (AuditQuery(), "audit_logs_occurred_idx"),
    "time range": (
        AuditQuery(since=START + timedelta(hours=10), until=START + timedelta(hours=11)),
        "audit_logs_occurred_idx",
    ),
    "one guest": (AuditQuery(guest_id="guest-42"), "audit_logs_guest_occurred_idx"),
    "guest + type + range": (
        AuditQuery(
            guest_id="guest-100",
            event_type="escalation",
            since=START,
            until=START + timedelta(days=1),
        ),
        "audit_logs_guest_occurred_idx",
    ),
    "one event type": (AuditQuery(event_type="escalation"), "audit_logs_type_occurred_idx"),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_query_shape_uses_its_index(bulk_dsn: str, shape: str) -> None:
    q, index = SHAPES[shape]
    assert index in {i.name for i in INDEXES}
    page_nodes, page_ms = explain(bulk_dsn, *q.page_sql())
    count_nodes, count_ms = explain(bulk_dsn, *q.count_sql())
    used = {n.get("Index Name") for n in page_nodes}
    kinds = [n["Node Type"] for n in page_nodes + count_nodes]
    print(
        f"\n{shape:22s} page {page_ms:7.3f} ms via {index} "
        f"({', '.join(n['Node Type'] for n in page_nodes)}); count {count_ms:7.3f} ms "
        f"({', '.join(n['Node Type'] for n in count_nodes)})"
    )
    assert index in used
    assert "Seq Scan" not in kinds or shape == "newest first"  # count(*) of all may scan
    sorts = [n for n in page_nodes if n["Node Type"] == "Sort"]
    if "guest" in shape:
        # The guest index narrows to one guest's 20 rows; the planner may sort those.
        assert all(n["Actual Rows"] <= ROWS // 5000 for n in sorts)
    else:
        assert not sorts  # the order comes from the index: no sort of thousands of rows


def test_deep_cursor_uses_the_index(bulk_dsn: str) -> None:
    from agent.audit.query import encode_cursor

    q = AuditQuery(cursor=encode_cursor(CURSOR_AT, "ffff"))
    nodes, ms = explain(bulk_dsn, *q.page_sql())
    scans = [n for n in nodes if n.get("Index Name") == "audit_logs_occurred_idx"]
    print(
        f"\ncursor at row 50000: page {ms:.3f} ms ({scans[0]['Node Type']}, "
        f"cond {scans[0].get('Index Cond')})"
    )
    assert scans
    assert "Index Cond" in scans[0]
    assert "Sort" not in [n["Node Type"] for n in nodes]


async def test_pages_over_100k_rows(audit: AuditLog) -> None:
    timings: dict[str, float] = {}

    async def timed(name: str, q: AuditQuery):
        t0 = time.perf_counter()
        page = await audit.query(q)
        timings[name] = (time.perf_counter() - t0) * 1000
        return page

    first = await timed("page 1", AuditQuery(page_size=100))
    assert first.total == ROWS
    assert first.items[0].payload["i"] == ROWS - 1
    assert [e.payload["i"] for e in first.items] == list(range(ROWS - 1, ROWS - 101, -1))
    by_cursor = await timed("page 2 by cursor", AuditQuery(page_size=100, cursor=first.next_cursor))
    by_number = await timed("page 2 by number", AuditQuery(page=2, page_size=100))
    assert by_cursor.items == by_number.items
    deep = await timed("page 900 by number", AuditQuery(page=900, page_size=100))
    assert deep.items[0].payload["i"] == ROWS - 1 - 899 * 100
    guest = await timed("guest-42 all", AuditQuery(guest_id="guest-42", page_size=100))
    assert guest.total == ROWS // 5000
    assert all(e.guest_id == "guest-42" for e in guest.items)
    escalations = await timed("escalations", AuditQuery(event_type="escalation"))
    assert escalations.total == ROWS // 100
    print(
        "\nAuditLog.query over 100k rows (ms): "
        + ", ".join(f"{k} {v:.1f}" for k, v in timings.items())
    )
