"""Every metric a rule or panel reads is one the agent, an exporter or Prometheus exports.

The agent's metrics come from the contract itself (agent.metrics.AgentMetrics). Anything
else must be in EXTERNAL, with the labels its source really exports (read from
prometheus-redis-exporter 1.45 and prometheus-postgres-exporter 0.11.1 as packaged in
Debian 12, Prometheus 2.42 and the fault proxy, whose names the test reads from the
proxy's own module). Label matchers are checked too: the original system's
dashboards filtered on a `status` label that never existed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client.metrics import MetricWrapperBase

from agent.metrics import AgentMetrics
from chaos.dashboards.assets import RULE_FILES
from chaos.dashboards.promql import (
    annotation_queries,
    grouping_labels,
    load_dashboards,
    panel_queries,
    recorded_labels,
    rule_queries,
    selectors,
)

TARGET_LABELS = frozenset({"job", "instance"})
REDIS = "prometheus-redis-exporter 1.45"
POSTGRES = "prometheus-postgres-exporter 0.11.1"
PROMETHEUS = "Prometheus 2.42 (synthetic series)"
PROXY = "the fault proxy's chaos windows (chaos.proxy.chaoswindows)"
PG_SERVER = frozenset({"server"})
PG_DB = frozenset({"server", "datid", "datname"})
EXTERNAL: dict[str, tuple[str, frozenset[str]]] = {
    "up": (PROMETHEUS, frozenset()),
    "ALERTS": (PROMETHEUS, frozenset({"alertname", "alertstate", "severity"})),
    "chaoslab_proxy_toxic_active": (
        PROXY,
        frozenset({"proxy", "toxic", "type", "stream", "run_id"}),
    ),
    "chaoslab_proxy_disabled": (PROXY, frozenset({"proxy", "run_id"})),
    "redis_up": (REDIS, frozenset()),
    "redis_memory_used_bytes": (REDIS, frozenset()),
    "redis_memory_max_bytes": (REDIS, frozenset()),
    "redis_connected_clients": (REDIS, frozenset()),
    "redis_blocked_clients": (REDIS, frozenset()),
    "redis_evicted_keys_total": (REDIS, frozenset()),
    "redis_expired_keys_total": (REDIS, frozenset()),
    "redis_rejected_connections_total": (REDIS, frozenset()),
    "redis_keyspace_hits_total": (REDIS, frozenset()),
    "redis_keyspace_misses_total": (REDIS, frozenset()),
    "redis_commands_total": (REDIS, frozenset({"cmd"})),
    "redis_commands_duration_seconds_total": (REDIS, frozenset({"cmd"})),
    "redis_db_keys": (REDIS, frozenset({"db"})),
    "pg_up": (POSTGRES, frozenset()),
    "pg_settings_max_connections": (POSTGRES, PG_SERVER),
    "pg_stat_activity_count": (POSTGRES, PG_SERVER | {"datname", "state"}),
    "pg_stat_activity_max_tx_duration": (POSTGRES, PG_SERVER | {"datname", "state"}),
    "pg_stat_database_deadlocks": (POSTGRES, PG_DB),
    "pg_stat_database_xact_commit": (POSTGRES, PG_DB),
    "pg_stat_database_xact_rollback": (POSTGRES, PG_DB),
    "pg_stat_database_blks_hit": (POSTGRES, PG_DB),
    "pg_stat_database_blks_read": (POSTGRES, PG_DB),
    "pg_database_size_bytes": (POSTGRES, frozenset({"server", "datname"})),
    "pg_locks_count": (POSTGRES, frozenset({"server", "datname", "mode"})),
}
SAMPLE_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum"),
}


def agent_contract() -> dict[str, frozenset[str]]:
    """Series name -> label names, for every series the agent's metrics expose."""
    metrics = AgentMetrics()
    wrappers = [m for m in vars(metrics).values() if isinstance(m, MetricWrapperBase)]
    families = {family.name for family in metrics.registry.collect()}
    # Introspection must see exactly what the registry holds, or the check is hollow.
    assert {w._name for w in wrappers} == families
    contract = {}
    for wrapper in wrappers:
        for suffix in SAMPLE_SUFFIXES[str(wrapper._type)]:
            labels = frozenset(wrapper._labelnames) | ({"le"} if suffix == "_bucket" else set())
            contract[wrapper._name + suffix] = labels
    return contract


CONTRACT = agent_contract()
RECORDED = {q.name for path in RULE_FILES for q in rule_queries(path) if q.kind == "record"}


def every_expression() -> Iterator[tuple[str, str]]:
    for path in RULE_FILES:
        for rule in rule_queries(path):
            yield f"{path.name}:{rule.name}", rule.expr
    for dashboard in load_dashboards():
        for query in panel_queries(dashboard):
            yield f"{dashboard['uid']}/{query.panel_title}/{query.ref_id}", query.expr
        for i, expr in enumerate(annotation_queries(dashboard)):
            yield f"{dashboard['uid']}/annotation{i}", expr


EXPRESSIONS = list(every_expression())


def known_labels(metric: str) -> frozenset[str] | None:
    if metric in CONTRACT:
        return CONTRACT[metric] | TARGET_LABELS
    if metric in EXTERNAL:
        return EXTERNAL[metric][1] | TARGET_LABELS
    if metric in RECORDED:
        return frozenset(recorded_labels(metric))
    return None


def test_the_chaos_window_series_are_the_ones_the_proxy_exports() -> None:
    from chaos.proxy import chaoswindows

    assert {chaoswindows.TOXIC_ACTIVE, chaoswindows.PROXY_DISABLED} == {
        name for name, (source, _) in EXTERNAL.items() if source == PROXY
    }


def test_the_contract_is_read_from_the_agent() -> None:
    assert CONTRACT["http_requests_total"] == {"method", "endpoint", "status_code"}
    assert CONTRACT["pms_api_latency_seconds_bucket"] == {"operation", "outcome", "le"}
    assert CONTRACT["audit_fallback_pending"] == frozenset()


@pytest.mark.parametrize(("where", "expr"), EXPRESSIONS, ids=[w for w, _ in EXPRESSIONS])
def test_expression_reads_only_exported_metrics_and_labels(where: str, expr: str) -> None:
    for selector in selectors(expr):
        assert selector.metric, f"nameless selector in {where}"
        labels = known_labels(selector.metric)
        assert labels is not None, (
            f"{selector.metric} is neither in the agent's contract, nor recorded, nor in EXTERNAL"
        )
        assert selector.labels <= labels, (
            f"{selector.metric} has no label {sorted(selector.labels - labels)}"
        )


@pytest.mark.parametrize(("where", "expr"), EXPRESSIONS, ids=[w for w, _ in EXPRESSIONS])
def test_expression_groups_only_by_labels_its_metrics_have(where: str, expr: str) -> None:
    available: set[str] = set()
    for selector in selectors(expr):
        available |= known_labels(selector.metric) or set()
    assert grouping_labels(expr) <= available


def test_every_external_metric_is_used() -> None:
    used = {s.metric for _, expr in EXPRESSIONS for s in selectors(expr)}
    assert set(EXTERNAL) - used == set(), "remove unused entries from EXTERNAL"
