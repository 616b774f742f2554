"""``chaoslab inspect pools``: who holds the connections, and how close each pool is to full.

Three sources, each optional (one that does not answer makes its checks ``unknown``):
  postgres  client backends from ``pg_stat_activity`` by state and application, against
            ``max_connections`` (this inspection's own connection is left out), queries
            active (or transactions idle) for longer than ``--long-query-seconds``, and
            sessions waiting for a lock with the pids that hold it;
  agent     the agent's own pool gauges from ``/metrics``: the psycopg audit pool (in use,
            available, max, callers waiting) and the Redis pool (in use, available, max);
  redis     ``connected_clients`` against ``maxclients`` (without this inspection), and
            ``blocked_clients``.
Utilisation at or above 75 % is a warning and at or above 90 % critical (the original
system's thresholds); callers waiting for an agent pool connection are a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
import redis

from chaos.inspect.connections import agent_figures, postgres_figures, redis_figures
from chaos.inspect.errors import InspectError
from chaos.inspect.report import Check, Report, Sample, Status
from chaos.inspect.sources import Targets, scrape_agent


@dataclass(frozen=True)
class PoolThresholds:
    warn_ratio: float = 0.75
    critical_ratio: float = 0.90
    long_query_s: float = 30.0


def _level(t: PoolThresholds, ratio: float | None) -> Status:
    if ratio is None:
        return "unknown"
    if ratio >= t.critical_ratio:
        return "critical"
    return "warning" if ratio >= t.warn_ratio else "ok"


def inspect_pools(
    targets: Targets, thresholds: PoolThresholds | None = None, *, timeout_s: float = 5.0
) -> Report:
    """Inspect connection use in PostgreSQL, the agent's pools and Redis."""
    t = thresholds or PoolThresholds()
    report = Report("pools", targets.redacted())
    report.data["thresholds"] = {
        "warn_ratio": t.warn_ratio,
        "critical_ratio": t.critical_ratio,
        "long_query_s": t.long_query_s,
    }
    pg = agent = rd = None
    if targets.postgres:
        try:
            pg = postgres_figures(targets.postgres, t.long_query_s, timeout_s)
        except (InspectError, psycopg.Error) as exc:
            report.checks.append(Check("pg_connections", "unknown", str(exc)))
    if targets.agent:
        try:
            agent = agent_figures(scrape_agent(targets.agent, timeout_s=timeout_s))
        except InspectError as exc:
            report.checks.append(Check("agent_pools", "unknown", str(exc)))
    if targets.redis:
        try:
            rd = redis_figures(targets.redis, timeout_s)
        except (InspectError, redis.RedisError) as exc:
            report.checks.append(Check("redis_clients", "unknown", str(exc)))
    report.data.update(postgres=pg, agent=agent, redis=rd)
    _checks(report, t, pg, agent, rd)
    report.recommendations = _recommend(t, pg, agent, rd)
    report.samples = _samples(t, pg, agent, rd)
    return report


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0%}"


def _checks(
    report: Report,
    t: PoolThresholds,
    pg: dict[str, Any] | None,
    agent: dict[str, Any] | None,
    rd: dict[str, Any] | None,
) -> None:
    add = report.checks.append
    if pg is not None:
        states = ", ".join(f"{n} {s}" for s, n in sorted(pg["by_state"].items()))
        add(
            Check(
                "pg_connections",
                _level(t, pg["ratio"]),
                f"{pg['connections']} of max_connections {pg['max_connections']} "
                f"({_pct(pg['ratio'])}): {states or 'none'}",
                pg["ratio"],
                t.warn_ratio,
            )
        )
        slow = pg["long_running"]
        add(
            Check(
                "pg_long_running",
                "warning" if slow else "ok",
                (
                    f"{len(slow)} over {t.long_query_s:g} s: "
                    + ", ".join(
                        f"pid {s['pid']} {s['state']} {s['application_name']}" for s in slow
                    )
                )
                if slow
                else f"nothing active or idle in transaction over {t.long_query_s:g} s",
                float(len(slow)),
                0.0,
            )
        )
    if agent is not None:
        for name, pool in agent["db_pools"].items():
            add(
                Check(
                    f"agent_db_pool:{name}",
                    _level(t, pool["ratio"]),
                    f"{pool['in_use']:.0f} in use, {pool['available']:.0f} available, max "
                    f"{pool['max']:.0f} ({_pct(pool['ratio'])})",
                    pool["ratio"],
                    t.warn_ratio,
                )
            )
            add(
                Check(
                    f"agent_db_pool_waiting:{name}",
                    "warning" if pool["waiting"] else "ok",
                    f"{pool['waiting']:.0f} callers waiting for a connection",
                    pool["waiting"],
                    0.0,
                )
            )
        rp = agent["redis_pool"]
        add(
            Check(
                "agent_redis_pool",
                _level(t, rp["ratio"]),
                f"{rp['in_use']:.0f} in use, {rp['available']:.0f} available, max {rp['max']:.0f} "
                f"({_pct(rp['ratio'])})",
                rp["ratio"],
                t.warn_ratio,
            )
        )
    if rd is not None:
        add(
            Check(
                "redis_clients",
                _level(t, rd["ratio"]),
                f"{rd['connected_clients']} connected of maxclients {rd['maxclients']} "
                f"({_pct(rd['ratio'])}), {rd['blocked_clients']} blocked",
                rd["ratio"],
                t.warn_ratio,
            )
        )


def _recommend(
    t: PoolThresholds,
    pg: dict[str, Any] | None,
    agent: dict[str, Any] | None,
    rd: dict[str, Any] | None,
) -> list[str]:
    out = []
    if pg is not None:
        if pg["ratio"] is not None and pg["ratio"] >= t.warn_ratio:
            top = pg["by_application"][0] if pg["by_application"] else None
            who = (
                f" (most: {top['application_name']}, {top['count']} {top['state']})" if top else ""
            )
            out.append(
                f"PostgreSQL is at {_pct(pg['ratio'])} of max_connections{who}: find the client "
                "holding connections (by_application) and size its pool down, or put a pooler "
                "in front; new connections are refused at the limit and audit writes fall back "
                "to the file."
            )
        idle_tx = sum(n for s, n in pg["by_state"].items() if s.startswith("idle in transaction"))
        if idle_tx:
            out.append(
                f"{idle_tx} sessions are idle in transaction: they hold locks and a connection "
                "without working; see docs/runbooks/PostgresLongTransaction.md."
            )
        blockers: dict[int, int] = {}
        for wait in pg["lock_waits"]:
            for pid in wait["blocked_by"]:
                blockers[pid] = blockers.get(pid, 0) + 1
        for pid, n in sorted(blockers.items()):
            out.append(
                f"pid {pid} blocks {n} sessions waiting for its locks (lock_waits): finish or "
                f"end its transaction (SELECT pg_terminate_backend({pid}))."
            )
        if pg["long_running"]:
            pids = ", ".join(str(s["pid"]) for s in pg["long_running"])
            out.append(
                f"Long-running work (pids {pids}): inspect with pg_stat_activity; end one with "
                "SELECT pg_cancel_backend(pid), or pg_terminate_backend(pid) for a stuck session."
            )
    if agent is not None:
        for name, pool in agent["db_pools"].items():
            if pool["waiting"] or (pool["ratio"] or 0) >= t.warn_ratio:
                out.append(
                    f"The agent's {name} pool is near its limit ({pool['in_use']:.0f}/"
                    f"{pool['max']:.0f}, {pool['waiting']:.0f} waiting): slow statements hold "
                    "connections (check `chaoslab inspect db` and faults on the postgres proxy); "
                    "AGENT_DATABASE__POOL_MAX raises the limit."
                )
        rp = agent["redis_pool"]
        if (rp["ratio"] or 0) >= t.warn_ratio:
            out.append(
                f"The agent's Redis pool is near its limit ({rp['in_use']:.0f}/{rp['max']:.0f}): "
                "callers queue for a connection; a slow Redis (latency fault) holds them longer. "
                "AGENT_REDIS__MAX_CONNECTIONS raises the limit."
            )
    if rd is not None:
        if (rd["ratio"] or 0) >= t.warn_ratio:
            out.append(
                f"Redis has {rd['connected_clients']} of {rd['maxclients']} clients: raise "
                "maxclients or find the client leaking connections (CLIENT LIST)."
            )
        if rd["blocked_clients"]:
            out.append(
                f"{rd['blocked_clients']} Redis clients are blocked in BLPOP-style commands; the "
                "agent issues none, so another client is waiting on Redis."
            )
        if rd["rejected_connections"]:
            out.append(
                f"Redis has rejected {rd['rejected_connections']} connections since it started "
                "(maxclients reached at some point)."
            )
    return out


def _samples(
    t: PoolThresholds,
    pg: dict[str, Any] | None,
    agent: dict[str, Any] | None,
    rd: dict[str, Any] | None,
) -> list[Sample]:
    out = [
        Sample("pools_warn_ratio", "Utilisation warning threshold.", t.warn_ratio),
        Sample("pools_critical_ratio", "Utilisation critical threshold.", t.critical_ratio),
    ]
    if pg is not None:
        out += [
            Sample("pg_max_connections", "PostgreSQL max_connections.", pg["max_connections"]),
            Sample(
                "pg_long_running",
                "Sessions over the long-query threshold.",
                len(pg["long_running"]),
            ),
        ]
        out += [
            Sample("pg_connections", "PostgreSQL client backends by state.", n, {"state": s})
            for s, n in sorted(pg["by_state"].items())
        ]
    if agent is not None:
        for name, pool in agent["db_pools"].items():
            for state in ("in_use", "available"):
                out.append(
                    Sample(
                        "agent_db_pool_connections",
                        "Agent PostgreSQL pool connections.",
                        pool[state],
                        {"pool": name, "state": state},
                    )
                )
            out.append(
                Sample(
                    "agent_db_pool_max_connections",
                    "Agent PostgreSQL pool limit.",
                    pool["max"],
                    {"pool": name},
                )
            )
            out.append(
                Sample(
                    "agent_db_pool_requests_waiting",
                    "Callers waiting for a connection.",
                    pool["waiting"],
                    {"pool": name},
                )
            )
        rp = agent["redis_pool"]
        for state in ("in_use", "available"):
            out.append(
                Sample(
                    "agent_redis_pool_connections",
                    "Agent Redis pool connections.",
                    rp[state],
                    {"state": state},
                )
            )
        out.append(Sample("agent_redis_pool_max_connections", "Agent Redis pool limit.", rp["max"]))
    if rd is not None:
        out += [
            Sample(
                "redis_connected_clients",
                "Redis clients (without this inspection).",
                rd["connected_clients"],
            ),
            Sample("redis_blocked_clients", "Redis clients blocked.", rd["blocked_clients"]),
            Sample("redis_maxclients", "Redis maxclients.", rd["maxclients"]),
        ]
    return out
