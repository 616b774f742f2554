"""Human renderings of the inspect reports: the verdicts first, then the figures behind them."""

from __future__ import annotations

from typing import Any

from chaos.inspect.keys import NO_TTL, TTL_BUCKETS
from chaos.inspect.report import FailOn, Report, render_checks, render_recommendations, table


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _mib(n: float | None) -> str:
    return "-" if n is None else f"{n / 2**20:.1f} MiB"


def cache_text(r: Report) -> list[str]:
    d = r.data
    span = f"over {d['window_s']:g} s" if d["window_s"] else "since start"
    hr = d["hit_ratio"]
    rows: list[tuple[Any, ...]] = []
    if hr["app"]:
        a = hr["app"]
        rows.append(("app (PMS cache)", _pct(a["ratio"]), a["hits"], a["misses"], a["lookups"]))
        for kind, k in a["by_kind"].items():
            rows.append(
                (f"  {kind}", _pct(k["ratio"]), k["hits"], k["misses"], k["hits"] + k["misses"])
            )
    else:
        rows.append(("app (PMS cache)", "unknown", None, None, None))
    rd = hr["redis"]
    rows.append(("redis (keyspace)", _pct(rd["ratio"]), rd["hits"], rd["misses"], rd["lookups"]))
    redis = d["redis"]
    maxmem = _mib(redis["maxmemory_bytes"]) if redis["maxmemory_bytes"] else "none"
    keys = d["keys"]
    names = [name for _, name in TTL_BUCKETS] + [NO_TTL]
    fam_rows = [
        (
            f["family"],
            f["keys"],
            f["no_ttl"],
            f["ttl_min_s"],
            f["ttl_median_s"],
            f["ttl_max_s"],
            *(f["ttl_buckets"][n] for n in names),
        )
        for f in keys["families"]
    ]
    truncated = " (truncated)" if keys["truncated"] else ""
    return [
        f"Hit ratio {span}, target {hr['target']:.0%}:\n"
        + table(["source", "ratio", "hits", "misses", "lookups"], rows),
        f"Redis {redis['version']}: {_mib(redis['used_memory_bytes'])} used of {maxmem} "
        f"(policy {redis['maxmemory_policy']}), {redis['evicted_keys']:.0f} evicted and "
        f"{redis['expired_keys']:.0f} expired {span}, {redis['dbsize']} keys",
        f"Keys by family ({keys['scanned']} scanned{truncated}), TTL in seconds:\n"
        + table(["family", "keys", "no ttl", "min", "median", "max", *names], fam_rows),
    ]


def db_text(r: Report) -> list[str]:
    d = r.data
    tbl = d["table"]
    if not tbl.get("exists"):
        return [f"Table {tbl['name']} does not exist."]
    q_rows = [
        (
            q["name"],
            q.get("plan", q.get("error")),
            q.get("execution_ms"),
            q.get("rows_examined"),
            q.get("actual_rows"),
            q["expected_index"],
        )
        for q in d["queries"]
    ]
    out = [
        f"Table {tbl['name']}: about {tbl['rows']} rows, {_mib(tbl['size_bytes'])} with indexes; "
        f"judged from {d['thresholds']['min_rows']} rows, limit {d['thresholds']['max_ms']:g} ms",
        "Critical queries, EXPLAIN (ANALYZE, BUFFERS):\n"
        + table(["query", "plan", "ms", "examined", "returned", "needs index"], q_rows),
    ]
    if d["unused_indexes"]:
        out.append(
            "Indexes never scanned since the statistics reset:\n"
            + table(
                ["table", "index", "size", "declared by agent"],
                [
                    (u["table"], u["index"], _mib(u["size_bytes"]), u["declared"])
                    for u in d["unused_indexes"]
                ],
            )
        )
    if d["seq_scan_tables"]:
        out.append(
            "Tables read mostly by sequential scans:\n"
            + table(
                ["table", "seq scans", "index scans", "rows read by seq scans", "live rows"],
                [
                    (s["table"], s["seq_scan"], s["idx_scan"], s["seq_tup_read"], s["live_rows"])
                    for s in d["seq_scan_tables"]
                ],
            )
        )
    return out


def pools_text(r: Report) -> list[str]:
    d = r.data
    out = []
    pg = d.get("postgres")
    if pg:
        out.append(
            f"PostgreSQL: {pg['connections']} client connections of max_connections "
            f"{pg['max_connections']} ({_pct(pg['ratio'])}; this inspection not counted):\n"
            + table(
                ["application", "database", "state", "count"],
                [
                    (a["application_name"], a["database"], a["state"], a["count"])
                    for a in pg["by_application"]
                ],
            )
        )
        if pg["long_running"]:
            out.append(
                f"Running longer than {d['thresholds']['long_query_s']:g} s:\n"
                + table(
                    ["pid", "state", "application", "query s", "xact s", "wait", "query"],
                    [
                        (
                            s["pid"],
                            s["state"],
                            s["application_name"],
                            s["query_s"],
                            s["xact_s"],
                            s["wait_event_type"],
                            " ".join((s["query"] or "").split())[:60],
                        )
                        for s in pg["long_running"]
                    ],
                )
            )
        if pg["lock_waits"]:
            out.append(
                "Waiting for a lock now:\n"
                + table(
                    ["pid", "application", "waiting s", "blocked by"],
                    [
                        (
                            w["pid"],
                            w["application_name"],
                            w["waiting_s"],
                            ", ".join(map(str, w["blocked_by"])),
                        )
                        for w in pg["lock_waits"]
                    ],
                )
            )
    agent = d.get("agent")
    if agent:
        rows: list[tuple[Any, ...]] = [
            (
                f"postgres:{name}",
                p["in_use"],
                p["available"],
                p["max"],
                p["waiting"],
                _pct(p["ratio"]),
            )
            for name, p in agent["db_pools"].items()
        ]
        rp = agent["redis_pool"]
        rows.append(("redis", rp["in_use"], rp["available"], rp["max"], None, _pct(rp["ratio"])))
        out.append(
            "Agent pools (its /metrics):\n"
            + table(["pool", "in use", "available", "max", "waiting", "used"], rows)
        )
    rd = d.get("redis")
    if rd:
        out.append(
            f"Redis: {rd['connected_clients']} clients of maxclients {rd['maxclients']} "
            f"({_pct(rd['ratio'])}; this inspection not counted), {rd['blocked_clients']} "
            f"blocked, {rd['rejected_connections']} connections rejected since start"
        )
    return out


SECTIONS = {"cache": cache_text, "db": db_text, "pools": pools_text}


def to_text(report: Report, fail_on: FailOn = "warning") -> str:
    """The whole human rendering of a report."""
    parts = [
        render_checks(report, fail_on),
        *SECTIONS[report.command](report),
        render_recommendations(report),
    ]
    return "\n\n".join(parts) + "\n"
