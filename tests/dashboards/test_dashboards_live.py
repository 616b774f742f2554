"""Every rule and panel query against a real Prometheus scraping real targets.

Two Prometheus servers, both scraping every second with the shipped rules loaded:
- ``stack_prometheus`` scrapes redis_exporter, postgres_exporter (watching the session's
  real Redis and PostgreSQL) and itself. It proves the rules load and evaluate, that
  every expression parses, and that the Redis/PostgreSQL dashboard has data.
- ``agent_prometheus`` adds the live agent (the ``live_agent_url`` fixture of
  tests/conftest.py, running against real Redis, PostgreSQL and PMS after real traffic).
  Every panel of every dashboard must return data there.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from matplotlib.image import imread

from chaos.dashboards.assets import RULE_FILES
from chaos.dashboards.promql import (
    annotation_queries,
    load_dashboards,
    panel_queries,
    rule_queries,
    substitute,
    template_variables,
)
from chaos.dashboards.render import render_dashboards

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DASHBOARDS = load_dashboards()
RULES = [q for path in RULE_FILES for q in rule_queries(path)]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def expanded(dashboard: dict[str, Any], expr: str) -> str:
    """A panel query as Grafana would send it with a 1 s scrape interval."""
    return substitute(expr, template_variables(dashboard), rate_interval="30s", interval="2s")


def assert_valid_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 50_000, f"{path.name} is suspiciously small ({len(data)} bytes)"
    image: Any = imread(path)
    assert image.shape[0] > 800
    assert image.shape[1] > 1000


def test_rules_load_and_evaluate_without_errors(stack_prometheus: Any) -> None:
    loaded = {g["name"]: g for g in stack_prometheus.client.rule_groups()}
    assert {r.group for r in RULES} == set(loaded)
    rules = [rule for group in loaded.values() for rule in group["rules"]]
    assert len(rules) == len(RULES)
    broken = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    assert broken == []


def test_every_rule_expression_parses(stack_prometheus: Any) -> None:
    for rule in RULES:
        stack_prometheus.client.query(rule.expr)  # raises DashboardError on a PromQL error


def test_every_panel_and_annotation_query_parses(stack_prometheus: Any) -> None:
    for dashboard in DASHBOARDS:
        for query in panel_queries(dashboard):
            stack_prometheus.client.query(expanded(dashboard, query.expr))
        for expr in annotation_queries(dashboard):
            stack_prometheus.client.query(expanded(dashboard, expr))


def test_datastore_panels_have_data_and_render(stack_prometheus: Any, tmp_path: Path) -> None:
    dashboard = next(d for d in DASHBOARDS if d["uid"] == "hcl-datastores")
    queries = {
        f"{q.panel_title}/{q.ref_id}": expanded(dashboard, q.expr) for q in panel_queries(dashboard)
    }
    assert stack_prometheus.without_data(queries) == []
    (png,) = render_dashboards(
        stack_prometheus.url, tmp_path, range_s=60, step="2s", rate_interval="30s",
        only={"hcl-datastores"}, strict=True,
    )  # fmt: skip
    assert_valid_png(png)


def test_every_panel_has_data_from_the_live_agent(agent_prometheus: Any) -> None:
    queries = {
        f"{d['uid']}/{q.panel_title}/{q.ref_id}": expanded(d, q.expr)
        for d in DASHBOARDS
        for q in panel_queries(d)
    }
    empty = agent_prometheus.without_data(queries)
    assert empty == [], "panel queries without data:\n" + "\n".join(empty)


def test_every_rule_evaluates_against_the_live_agent(agent_prometheus: Any) -> None:
    for rule in RULES:
        agent_prometheus.client.query(rule.expr)
    records = {r.name: r.name for r in RULES if r.kind == "record"}
    assert agent_prometheus.without_data(records) == [], "recording rules without output"


def test_render_every_dashboard_from_the_live_agent(agent_prometheus: Any, tmp_path: Path) -> None:
    paths = render_dashboards(
        agent_prometheus.url, tmp_path, range_s=120, step="2s", rate_interval="30s", strict=True
    )
    assert sorted(p.stem for p in paths) == sorted(d["uid"] for d in DASHBOARDS)
    for path in paths:
        assert_valid_png(path)


def test_every_panel_has_data_on_the_native_stack(stack: Any, live_agent_url: str) -> None:
    """The lint's live half, on the stack `chaoslab up` starts (lab rules, every exporter)."""
    from chaos.dashboards.lint import lint_live
    from chaos.dashboards.render import PrometheusClient

    deadline = time.monotonic() + 60
    with PrometheusClient(stack.url("prometheus")) as client:
        while True:
            empty = [p for d in DASHBOARDS for p in lint_live(client, d, rate_interval="30s")]
            if not empty or time.monotonic() > deadline:
                break
            time.sleep(2)  # rates need a few scrapes after the guest traffic
    assert empty == []
