"""The agent's critical audit-log queries, realistic parameters for them, and their plans.

The SQL is ``agent.audit.query.AuditQuery.page_sql()``: what the admin API really sends.
Parameters come from the table itself (a real guest, the rarest event type, the newest
timestamp), so the planner sees the selectivity an operator's query would have.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from agent.audit.query import AuditQuery, encode_cursor
from agent.audit.schema import INDEXES, TABLE


@dataclass(frozen=True)
class QueryParams:
    """Values from the table that make the critical queries realistic."""

    guest_id: str
    event_type: str
    newest: datetime
    oldest: datetime


def _week(p: QueryParams) -> tuple[datetime, datetime]:
    return p.newest - timedelta(days=7), p.newest + timedelta(seconds=1)


def _by_guest(p: QueryParams) -> AuditQuery:
    since, until = _week(p)
    return AuditQuery(guest_id=p.guest_id, since=since, until=until)


def _by_type(p: QueryParams) -> AuditQuery:
    since, until = _week(p)
    return AuditQuery(event_type=p.event_type, since=since, until=until)


def _newest(p: QueryParams) -> AuditQuery:
    return AuditQuery()


def _keyset(p: QueryParams) -> AuditQuery:
    return AuditQuery(cursor=encode_cursor(p.oldest + (p.newest - p.oldest) / 2, "~"))


@dataclass(frozen=True)
class CriticalQuery:
    """One query shape the agent runs, and the declared index that should serve it."""

    name: str
    description: str
    index: str
    build: Callable[[QueryParams], AuditQuery]


CRITICAL_QUERIES: tuple[CriticalQuery, ...] = (
    CriticalQuery(
        "by_guest_time",
        "one guest's events in the last 7 days, newest 20 (guest of the newest row)",
        "audit_logs_guest_occurred_idx",
        _by_guest,
    ),
    CriticalQuery(
        "by_type_time",
        "one event type in the last 7 days, newest 20 (the rarest type in the statistics)",
        "audit_logs_type_occurred_idx",
        _by_type,
    ),
    CriticalQuery(
        "newest_page",
        "the first page, newest 20, no filter",
        "audit_logs_occurred_idx",
        _newest,
    ),
    CriticalQuery(
        "keyset_page",
        "the page after a cursor half-way through the table's time span",
        "audit_logs_occurred_idx",
        _keyset,
    ),
)
DECLARED = {i.name: i for i in INDEXES}

Conn = psycopg.Connection[tuple[Any, ...]]


def one(conn: Conn, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
    """The first row of ``sql``, or None."""
    return conn.execute(sql, params).fetchone()


def pick_params(conn: Conn) -> QueryParams:
    """A real guest and time span from the table, and its rarest event type."""
    newest = one(
        conn,
        f"SELECT guest_id, event_type, occurred_at FROM {TABLE} "
        "ORDER BY occurred_at DESC, event_id DESC LIMIT 1",
    )
    if newest is None:  # empty table: any values plan the same shapes
        now = datetime.now(UTC)
        return QueryParams("nobody", "message", now, now - timedelta(days=1))
    oldest = one(conn, f"SELECT min(occurred_at) FROM {TABLE}")
    event_type = newest[1]
    stats = one(
        conn,
        "SELECT most_common_vals::text::text[], most_common_freqs FROM pg_stats "
        "WHERE tablename = %s AND attname = 'event_type' ORDER BY schemaname LIMIT 1",
        (TABLE,),
    )
    if stats is not None and stats[0]:
        event_type = min(zip(stats[0], stats[1], strict=True), key=lambda vf: vf[1])[0]
    return QueryParams(newest[0], event_type, newest[2], oldest[0] if oldest else newest[2])


def _nodes(plan: dict[str, Any], depth: int = 0) -> list[dict[str, Any]]:
    node = {
        "depth": depth,
        "node": plan["Node Type"]
        + (f" {plan['Scan Direction']}" if plan.get("Scan Direction") == "Backward" else ""),
        "relation": plan.get("Relation Name"),
        "index": plan.get("Index Name"),
        "actual_rows": plan.get("Actual Rows"),
        "loops": plan.get("Actual Loops"),
        "actual_total_ms": plan.get("Actual Total Time"),
    }
    if plan.get("Relation Name") or plan.get("Index Name"):
        # Rows the scan looked at: those it returned plus those its filters threw away.
        read = (
            (plan.get("Actual Rows") or 0)
            + (plan.get("Rows Removed by Filter") or 0)
            + (plan.get("Rows Removed by Index Recheck") or 0)
        )
        node["rows_examined"] = read * (plan.get("Actual Loops") or 1)
    out = [node]
    for child in plan.get("Plans", []):
        out += _nodes(child, depth + 1)
    return out


def explain(conn: Conn, q: CriticalQuery, params: QueryParams) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS) of one critical query, condensed."""
    sql, args = q.build(params).page_sql()
    result: dict[str, Any] = {
        "name": q.name,
        "description": q.description,
        "expected_index": q.index,
        "sql": sql,
    }
    try:
        row = one(conn, f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", tuple(args))
    except psycopg.Error as exc:
        result["error"] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
        return result
    assert row is not None
    doc = row[0][0]
    top = doc["Plan"]
    nodes = _nodes(top)
    result.update(
        plan=" > ".join(
            n["node"]
            + (f" using {n['index']}" if n["index"] else "")
            + (f" on {n['relation']}" if n["relation"] and not n["index"] else "")
            for n in nodes
        ),
        nodes=nodes,
        indexes_used=sorted({n["index"] for n in nodes if n["index"]}),
        seq_scan=any(n["node"] == "Seq Scan" and n["relation"] == TABLE for n in nodes),
        execution_ms=round(float(doc["Execution Time"]), 3),
        planning_ms=round(float(doc["Planning Time"]), 3),
        actual_rows=top.get("Actual Rows"),
        # A bitmap index scan's rows are examined again by its heap scan: count heaps.
        rows_examined=sum(
            n.get("rows_examined", 0) for n in nodes if not n["node"].startswith("Bitmap Index")
        ),
        shared_hit_blocks=top.get("Shared Hit Blocks"),
        shared_read_blocks=top.get("Shared Read Blocks"),
    )
    result["uses_expected_index"] = q.index in result["indexes_used"]
    return result
