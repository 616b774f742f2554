"""Grafana provisioning and dashboard JSON structure."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from chaos.dashboards.assets import GRAFANA_DIR
from chaos.dashboards.promql import (
    annotation_queries,
    iter_panels,
    load_dashboards,
    metric_names,
    panel_queries,
    substitute,
    template_variables,
)

DASHBOARDS = load_dashboards()
BY_UID = {d["uid"]: d for d in DASHBOARDS}
PANELS = [(d, p) for d in DASHBOARDS for p in iter_panels(d)]
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# Grafana unit ids the dashboards may use (the renderer knows each of them).
UNITS = {"reqps", "ops", "percentunit", "s", "bytes", "short", "none"}
EXPECTED_UIDS = {"hcl-agent-overview", "hcl-resilience", "hcl-pms-cache", "hcl-datastores"}


def panel_id(item: tuple[dict[str, Any], dict[str, Any]]) -> str:
    dashboard, panel = item
    return f"{dashboard['uid']}/{panel.get('title')}"


def test_the_four_dashboards_have_fixed_unique_uids_and_titles() -> None:
    uids = [d["uid"] for d in DASHBOARDS]
    assert sorted(uids) == sorted(EXPECTED_UIDS)
    assert len({d["title"] for d in DASHBOARDS}) == len(DASHBOARDS)


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda d: d["uid"])
def test_dashboard_header(dashboard: dict[str, Any]) -> None:
    assert dashboard["schemaVersion"] == 39
    assert dashboard["id"] is None  # importable into any Grafana
    assert dashboard["description"]
    assert "hotel-chaos-lab" in dashboard["tags"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in iter_panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda d: d["uid"])
def test_panels_fit_the_grid_without_overlapping(dashboard: dict[str, Any]) -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in iter_panels(dashboard):
        pos = panel["gridPos"]
        assert min(pos["w"], pos["h"]) > 0
        assert 0 <= pos["x"] < pos["x"] + pos["w"] <= 24
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


@pytest.mark.parametrize("item", PANELS, ids=panel_id)
def test_panel_has_datasource_unit_description_and_queries(
    item: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    _, panel = item
    assert panel["type"] in {"timeseries", "stat", "gauge"}
    assert panel["datasource"] == DATASOURCE
    assert panel["description"].strip()
    defaults = panel["fieldConfig"]["defaults"]
    assert defaults["unit"] in UNITS
    steps = defaults["thresholds"]["steps"]
    assert steps[0]["value"] is None, "the first threshold step is the base (value null)"
    targets = panel["targets"]
    assert targets, "a panel without queries shows nothing"
    assert len({t["refId"] for t in targets}) == len(targets)
    for target in targets:
        assert target["expr"].strip()
        assert target["datasource"] == DATASOURCE


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda d: d["uid"])
def test_every_grafana_variable_in_a_query_is_defined(dashboard: dict[str, Any]) -> None:
    variables = template_variables(dashboard)
    for query in panel_queries(dashboard):
        assert "$" not in substitute(query.expr, variables)
    for expr in annotation_queries(dashboard):
        assert "$" not in substitute(expr, variables)


def test_cache_dashboard_draws_hit_ratio_against_the_70_percent_line() -> None:
    lines = [
        panel
        for panel in iter_panels(BY_UID["hcl-pms-cache"])
        if panel["type"] == "timeseries"
        and panel["fieldConfig"]["defaults"]["unit"] == "percentunit"
        and any(s["value"] == 0.7 for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"])
        and panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] != "off"
        and any("pms_cache_hits_total" in t["expr"] for t in panel["targets"])
    ]
    assert lines


def test_resilience_dashboard_covers_breakers_retries_fallback_and_stale_cache() -> None:
    dashboard = BY_UID["hcl-resilience"]
    used = set().union(*(metric_names(q.expr) for q in panel_queries(dashboard)))
    assert {
        "circuit_breaker_state",
        "circuit_breaker_transitions_total",
        "retry_attempts_total",
        "session_save_retries_total",
        "audit_fallback_writes_total",
        "audit_fallback_pending",
        "pms_cache_stale_served_total",
        "stt_requests_total",
        "stt_latency_seconds_bucket",
    } <= used
    names = {a["name"] for a in dashboard["annotations"]["list"]}
    assert "Breaker opened" in names


def test_agent_overview_shows_rate_errors_and_duration() -> None:
    used = set().union(*(metric_names(q.expr) for q in panel_queries(BY_UID["hcl-agent-overview"])))
    assert {"http_requests_total", "http_request_duration_seconds_bucket"} <= used


def test_datastores_dashboard_covers_redis_and_postgres() -> None:
    used = set().union(*(metric_names(q.expr) for q in panel_queries(BY_UID["hcl-datastores"])))
    assert {"redis_up", "redis_memory_used_bytes", "pg_up", "pg_stat_activity_count"} <= used


def test_provisioning_files() -> None:
    sources = yaml.safe_load((GRAFANA_DIR / "provisioning/datasources/prometheus.yml").read_text())
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"].startswith("http")
    assert sources["apiVersion"] == 1
    providers = yaml.safe_load((GRAFANA_DIR / "provisioning/dashboards/provider.yml").read_text())
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"]
    assert providers["apiVersion"] == 1
