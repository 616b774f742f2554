"""Connection figures from each source ``inspect pools`` reads, as plain documents."""

from __future__ import annotations

from typing import Any

from chaos.inspect.errors import InspectError
from chaos.inspect.sources import Scrape, pg_connect, redis_connect


def postgres_figures(dsn: str, long_query_s: float, timeout_s: float) -> dict[str, Any]:
    """Connections by state and application, the limit, and long-running work."""
    with pg_connect(dsn, timeout_s=timeout_s, statement_timeout_ms=int(timeout_s * 1000)) as conn:
        limits = conn.execute(
            "SELECT current_setting('max_connections')::int, "
            "current_setting('superuser_reserved_connections')::int"
        ).fetchone()
        assert limits is not None
        groups = conn.execute(
            """
            SELECT coalesce(nullif(application_name, ''), '(none)'), coalesce(datname, ''),
                   coalesce(state, 'unknown'), count(*)
            FROM pg_stat_activity
            WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
            GROUP BY 1, 2, 3 ORDER BY 4 DESC, 1, 2, 3
            """
        ).fetchall()
        long_running = conn.execute(
            """
            SELECT pid, coalesce(datname, ''), coalesce(nullif(application_name, ''), '(none)'),
                   state, extract(epoch FROM now() - query_start)::float8,
                   extract(epoch FROM now() - xact_start)::float8,
                   wait_event_type, left(query, 200)
            FROM pg_stat_activity
            WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
              AND ((state = 'active' AND now() - query_start > make_interval(secs => %s))
                OR (state LIKE 'idle in transaction%%'
                    AND now() - xact_start > make_interval(secs => %s)))
            ORDER BY least(query_start, xact_start)
            """,
            (long_query_s, long_query_s),
        ).fetchall()
        # Sessions waiting for a lock right now, and the sessions holding it.
        lock_waits = conn.execute(
            """
            SELECT pid, coalesce(nullif(application_name, ''), '(none)'),
                   extract(epoch FROM now() - query_start)::float8, pg_blocking_pids(pid)
            FROM pg_stat_activity
            WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()
            ORDER BY query_start
            """
        ).fetchall()
    by_state: dict[str, int] = {}
    for _, _, state, n in groups:
        by_state[state] = by_state.get(state, 0) + n
    total = sum(by_state.values())
    return {
        "max_connections": limits[0],
        "superuser_reserved_connections": limits[1],
        "connections": total,
        "ratio": total / limits[0] if limits[0] else None,
        "by_state": by_state,
        "by_application": [
            {"application_name": a, "database": d, "state": s, "count": n} for a, d, s, n in groups
        ],
        "long_running": [
            {
                "pid": r[0],
                "database": r[1],
                "application_name": r[2],
                "state": r[3],
                "query_s": round(r[4], 1) if r[4] is not None else None,
                "xact_s": round(r[5], 1) if r[5] is not None else None,
                "wait_event_type": r[6],
                "query": r[7],
            }
            for r in long_running
        ],
        "lock_waits": [
            {
                "pid": r[0],
                "application_name": r[1],
                "waiting_s": round(r[2], 1) if r[2] is not None else None,
                "blocked_by": list(r[3]),
            }
            for r in lock_waits
        ],
    }


def agent_figures(scrape: Scrape) -> dict[str, Any]:
    """The agent's pool gauges (``agent/pools.py``) as one document."""
    db_pools: dict[str, dict[str, Any]] = {}
    for labels, value in scrape.samples.get("db_pool_connections", []):
        pool = db_pools.setdefault(labels.get("pool", ""), {"in_use": 0.0, "available": 0.0})
        pool[labels.get("state", "")] = value
    if not db_pools:
        raise InspectError("the agent's /metrics has no db_pool_connections (an older agent?)")
    for name, pool in db_pools.items():
        pool["size"] = pool["in_use"] + pool["available"]
        pool["max"] = scrape.total("db_pool_max_connections", pool=name) or 0.0
        pool["waiting"] = scrape.total("db_pool_requests_waiting", pool=name) or 0.0
        pool["ratio"] = pool["in_use"] / pool["max"] if pool["max"] else None
    states = scrape.by_label("redis_pool_connections", "state")
    redis_max = scrape.total("redis_pool_max_connections") or 0.0
    in_use = states.get("in_use", 0.0)
    return {
        "db_pools": db_pools,
        "redis_pool": {
            "in_use": in_use,
            "available": states.get("available", 0.0),
            "max": redis_max,
            "ratio": in_use / redis_max if redis_max else None,
        },
    }


def redis_figures(url: str, timeout_s: float) -> dict[str, Any]:
    client = redis_connect(url, timeout_s=timeout_s)
    try:
        clients = client.info("clients")
        stats = client.info("stats")
        maxclients = int(clients.get("maxclients", 0))
    finally:
        client.close()
    # Leave this inspection's own connection out, as for PostgreSQL.
    connected = max(0, int(clients.get("connected_clients", 0)) - 1)
    return {
        "connected_clients": connected,
        "blocked_clients": int(clients.get("blocked_clients", 0)),
        "maxclients": maxclients,
        "ratio": connected / maxclients if maxclients else None,
        "rejected_connections": int(stats.get("rejected_connections", 0)),
    }
