"""``chaoslab inspect db``: the indexes the agent declares, and the plans of its critical queries.

The indexes come from ``agent.audit.schema.INDEXES`` and the queries from
``chaos.inspect.plans`` (the SQL the admin API really sends, not a copy), each run under
``EXPLAIN (ANALYZE, BUFFERS)``. On a table of
at least ``min_rows`` rows a query fails when its plan has a sequential scan of the table
or it takes longer than ``max_ms``; below that floor the planner rightly prefers scans, so
the verdict is ``skipped``. A declared index that is missing, invalid or built on other
columns fails whatever the size. Index-usage statistics are read before the EXPLAINs run,
because running them counts as use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from agent.audit.schema import INDEXES, TABLE, IndexSpec
from chaos.inspect.errors import InspectError
from chaos.inspect.plans import CRITICAL_QUERIES, DECLARED, Conn, explain, one, pick_params
from chaos.inspect.report import Check, Report, Sample
from chaos.inspect.sources import Targets, pg_connect


@dataclass(frozen=True)
class DbThresholds:
    """Defaults: the original system's pre-deploy check (EXPLAIN ANALYZE < 100 ms at 100k)."""

    max_ms: float = 100.0
    min_rows: int = 100_000


def table_rows(conn: Conn) -> tuple[int, str]:
    """The planner's row estimate, or an exact count when the table was never analysed."""
    row = one(conn, "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)", (TABLE,))
    if row is not None and row[0] is not None and row[0] >= 0:
        return int(row[0]), "reltuples"
    counted = one(conn, f"SELECT count(*) FROM {TABLE}")
    return int(counted[0]) if counted else 0, "count"


def actual_indexes(conn: Conn) -> dict[str, dict[str, Any]]:
    """Every index on the table: columns in order, validity, size and scan count."""
    rows = conn.execute(
        """
        SELECT i.relname, x.indisvalid, pg_relation_size(i.oid),
               coalesce(s.idx_scan, 0),
               array_agg(a.attname ORDER BY k.n) FILTER (WHERE a.attname IS NOT NULL)
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = x.indexrelid
        CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n)
        LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
        WHERE x.indrelid = to_regclass(%s)
        GROUP BY i.relname, x.indisvalid, i.oid, s.idx_scan
        """,
        (TABLE,),
    ).fetchall()
    return {
        r[0]: {"valid": r[1], "size_bytes": r[2], "scans": r[3], "columns": list(r[4] or [])}
        for r in rows
    }


def usage_stats(
    conn: Conn, declared: set[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Unused non-unique indexes, and tables read mostly by sequential scans."""
    unused = [
        {"table": r[0], "index": r[1], "size_bytes": r[2], "declared": r[1] in declared}
        for r in conn.execute(
            """
            SELECT s.relname, s.indexrelname, pg_relation_size(s.indexrelid)
            FROM pg_stat_user_indexes s JOIN pg_index x ON x.indexrelid = s.indexrelid
            WHERE s.idx_scan = 0 AND NOT x.indisunique AND NOT x.indisprimary
            ORDER BY pg_relation_size(s.indexrelid) DESC, s.indexrelname
            """
        ).fetchall()
    ]
    seq = [
        {"table": r[0], "seq_scan": r[1], "idx_scan": r[2], "seq_tup_read": r[3], "live_rows": r[4]}
        for r in conn.execute(
            """
            SELECT relname, seq_scan, coalesce(idx_scan, 0), seq_tup_read, n_live_tup
            FROM pg_stat_user_tables
            WHERE seq_scan > coalesce(idx_scan, 0) AND n_live_tup >= 1000
            ORDER BY seq_tup_read DESC LIMIT 10
            """
        ).fetchall()
    ]
    return unused, seq


def _index_check(spec: IndexSpec, actual: dict[str, Any] | None) -> tuple[Check, dict[str, Any]]:
    doc = {
        "name": spec.name,
        "columns": list(spec.columns),
        "serves": spec.serves,
        "present": actual is not None,
        "valid": None,
        "actual_columns": None,
        "size_bytes": None,
        "scans": None,
    }
    if actual is None:
        return Check(f"index:{spec.name}", "critical", f"missing; recreate: {spec.ddl}"), doc
    doc.update(
        valid=actual["valid"],
        actual_columns=actual["columns"],
        size_bytes=actual["size_bytes"],
        scans=actual["scans"],
    )
    if not actual["valid"]:
        return Check(
            f"index:{spec.name}",
            "critical",
            f"invalid (a failed concurrent build); drop and recreate: {spec.ddl}",
        ), doc
    if tuple(actual["columns"]) != spec.columns:
        return Check(
            f"index:{spec.name}",
            "warning",
            f"on ({', '.join(actual['columns'])}), declared ({', '.join(spec.columns)})",
        ), doc
    return Check(f"index:{spec.name}", "ok", f"present on ({', '.join(spec.columns)})"), doc


def _query_check(t: DbThresholds, rows: int, r: dict[str, Any], missing: set[str]) -> Check:
    name = f"query:{r['name']}"
    if "error" in r:
        return Check(name, "critical", f"{r['name']} failed: {r['error']}", None, t.max_ms)
    ms = r["execution_ms"]
    summary = f"{r['plan']}; {ms:.2f} ms, {r['rows_examined']} rows examined"
    if rows < t.min_rows:
        return Check(
            name, "skipped", f"{summary}; table below {t.min_rows} rows, not judged", ms, t.max_ms
        )
    problems = []
    if r["seq_scan"]:
        problems.append(f"Seq Scan on {TABLE} ({rows} rows)")
    if ms > t.max_ms:
        problems.append(f"{ms:.1f} ms > {t.max_ms:g} ms")
    if r["expected_index"] in missing:
        # Without its index the planner may still avoid a Seq Scan (e.g. a bitmap scan of
        # the time index) and stay under the time limit at this size: still a regression.
        problems.append(
            f"its index {r['expected_index']} is missing "
            f"({r['rows_examined']} rows examined for {r['actual_rows']})"
        )
    if problems:
        return Check(
            name, "critical", f"{r['name']}: {'; '.join(problems)}; plan {r['plan']}", ms, t.max_ms
        )
    if not r["uses_expected_index"]:
        return Check(
            name,
            "info",
            f"{summary}; the planner preferred it to {r['expected_index']}",
            ms,
            t.max_ms,
        )
    return Check(name, "ok", summary, ms, t.max_ms)


def inspect_db(
    targets: Targets,
    thresholds: DbThresholds | None = None,
    *,
    timeout_s: float = 5.0,
    statement_timeout_ms: int = 10_000,
) -> Report:
    """Inspect the audit table's indexes and critical query plans; see the module docstring."""
    t = thresholds or DbThresholds()
    if targets.postgres is None:
        raise InspectError("inspect db needs a PostgreSQL URL")
    report = Report("db", targets.redacted())
    with pg_connect(
        targets.postgres, timeout_s=timeout_s, statement_timeout_ms=statement_timeout_ms
    ) as conn:
        try:
            return _inspect(conn, t, report)
        except psycopg.Error as exc:
            raise InspectError(f"PostgreSQL failed during the inspection: {exc}") from exc


def _inspect(conn: Conn, t: DbThresholds, report: Report) -> Report:
    exists = one(conn, "SELECT to_regclass(%s) IS NOT NULL", (TABLE,))
    reset = one(conn, "SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()")
    unused, seq = usage_stats(conn, set(DECLARED))
    report.data = {
        "thresholds": {"max_ms": t.max_ms, "min_rows": t.min_rows},
        "stats_reset": reset[0].isoformat() if reset and reset[0] else None,
    }
    if not (exists and exists[0]):
        report.checks.append(
            Check(
                "table",
                "critical",
                f"{TABLE} does not exist: the agent creates it at start (or: python -m agent.audit "
                "migrate)",
            )
        )
        report.data.update(
            table={"name": TABLE, "exists": False},
            indexes=[],
            queries=[],
            unused_indexes=unused,
            seq_scan_tables=seq,
        )
        return report
    rows, source = table_rows(conn)
    size = one(conn, "SELECT pg_total_relation_size(to_regclass(%s))", (TABLE,))
    report.checks.append(
        Check(
            "table",
            "ok" if rows >= t.min_rows else "info",
            f"{TABLE}: about {rows} rows ({source})",
            float(rows),
            float(t.min_rows),
        )
    )
    actual = actual_indexes(conn)
    index_docs = []
    for spec in INDEXES:
        check, doc = _index_check(spec, actual.get(spec.name))
        report.checks.append(check)
        index_docs.append(doc)
    params = pick_params(conn)
    queries = [explain(conn, q, params) for q in CRITICAL_QUERIES]
    missing = {d["name"] for d in index_docs if not (d["present"] and d["valid"])}
    report.checks += [_query_check(t, rows, r, missing) for r in queries]
    unused_declared = [u["index"] for u in unused if u["declared"]]
    unused_other = [u["index"] for u in unused if not u["declared"]]
    if unused:
        report.checks.append(
            Check(
                "unused_indexes",
                "info",
                f"never scanned since stats reset: {', '.join(u['index'] for u in unused)}",
                float(len(unused)),
            )
        )
    if seq:
        report.checks.append(
            Check(
                "seq_scan_tables",
                "info",
                "read mostly by sequential scans: "
                + ", ".join(
                    f"{s['table']} ({s['seq_scan']} seq vs {s['idx_scan']} idx)" for s in seq
                ),
                float(len(seq)),
            )
        )
    report.data.update(
        table={
            "name": TABLE,
            "exists": True,
            "rows": rows,
            "rows_source": source,
            "size_bytes": size[0] if size else None,
        },
        indexes=index_docs,
        queries=queries,
        unused_indexes=unused,
        seq_scan_tables=seq,
    )
    report.recommendations = _recommend(
        t, rows, report, queries, unused_declared, unused_other, seq
    )
    report.samples = _samples(t, rows, index_docs, queries, unused, seq)
    return report


def _recommend(
    t: DbThresholds,
    rows: int,
    report: Report,
    queries: list[dict[str, Any]],
    unused_declared: list[str],
    unused_other: list[str],
    seq: list[dict[str, Any]],
) -> list[str]:
    out = []
    missing = [
        c.name.removeprefix("index:")
        for c in report.checks
        if c.name.startswith("index:") and c.status != "ok"
    ]
    if missing:
        out.append(
            f"Recreate {', '.join(missing)}: `python -m agent.audit migrate` (idempotent) "
            "or restart the agent, which creates missing indexes at start."
        )
    if rows < t.min_rows:
        out.append(
            f"The table has {rows} rows, below the {t.min_rows}-row floor: plans are not "
            f"representative. `chaoslab seed-audit {t.min_rows}` adds realistic rows "
            "(guest ids 'seed-...'; remove them with `chaoslab seed-audit --purge`)."
        )
    for q in queries:
        if rows >= t.min_rows and q.get("seq_scan"):
            out.append(f"{q['name']} scans the whole table: it needs {q['expected_index']}.")
        elif rows >= t.min_rows and q.get("execution_ms", 0) > t.max_ms:
            out.append(
                f"{q['name']} is slow with plan {q['plan']}: check shared_read_blocks "
                "(cold cache) and run ANALYZE if the estimates are off."
            )
    if unused_declared:
        out.append(
            f"{', '.join(unused_declared)} unused since the statistics reset: they serve "
            "the admin audit-log listing, which nobody has called; keep them."
        )
    if unused_other:
        out.append(
            f"{', '.join(unused_other)} are not declared by the agent and never scanned: "
            "they only slow writes down; consider dropping them."
        )
    if any(s["table"] == TABLE for s in seq):
        out.append(
            f"{TABLE} is read mostly by sequential scans: unfiltered count(*) of the admin "
            "listing and ad-hoc LIKE queries scan it; fine unless they are frequent."
        )
    return out


def _samples(
    t: DbThresholds,
    rows: int,
    index_docs: list[dict[str, Any]],
    queries: list[dict[str, Any]],
    unused: list[dict[str, Any]],
    seq: list[dict[str, Any]],
) -> list[Sample]:
    out = [
        Sample("db_table_rows", "Estimated rows of the audit table.", rows, {"table": TABLE}),
        Sample("db_query_max_seconds", "Query time threshold.", t.max_ms / 1000),
        Sample("db_min_rows", "Row floor below which plans are not judged.", t.min_rows),
        Sample("db_unused_indexes", "Non-unique indexes never scanned.", len(unused)),
        Sample("db_seq_scan_tables", "Tables read mostly by sequential scans.", len(seq)),
    ]
    for d in index_docs:
        out.append(
            Sample(
                "db_index_present",
                "1 when the declared index exists and is valid.",
                float(bool(d["present"] and d["valid"])),
                {"index": d["name"]},
            )
        )
    for q in queries:
        if "error" in q:
            continue
        labels = {"query": q["name"]}
        out.append(
            Sample(
                "db_query_execution_seconds",
                "EXPLAIN ANALYZE execution time.",
                q["execution_ms"] / 1000,
                labels,
            )
        )
        out.append(
            Sample(
                "db_query_seq_scan",
                "1 when the plan scans the audit table.",
                float(q["seq_scan"]),
                labels,
            )
        )
    return out
