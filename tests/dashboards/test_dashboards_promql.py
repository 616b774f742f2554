"""The PromQL reader behind the contract test: selectors, labels, Grafana variables."""

from __future__ import annotations

import pytest

from chaos.dashboards import DashboardError
from chaos.dashboards.promql import (
    Selector,
    grouping_labels,
    metric_names,
    recorded_labels,
    selectors,
    substitute,
    template_variables,
)


def test_selectors_skip_aggregations_functions_and_grouping_labels() -> None:
    expr = (
        'sum by (job, endpoint) (rate(http_requests_total{status_code=~"5..", job="agent"}[5m]))'
        " / on (job) group_left sum without (instance) (rate(http_requests_total[5m]))"
    )
    assert selectors(expr) == [
        Selector("http_requests_total", frozenset({"status_code", "job"})),
        Selector("http_requests_total", frozenset()),
    ]
    assert grouping_labels(expr) == {"job", "endpoint", "instance"}


def test_strings_numbers_durations_and_keywords_are_not_metrics() -> None:
    expr = (
        'label_replace(a_total offset 1h, "dst", "$1", "src", "(.*)") > bool 1e-3'
        " and b @ 1700000000 unless topk(5, c) or absent(d{x='{y}'}) * inf"
        " + avg_over_time((e == bool 1)[5m:30s])"
    )
    assert metric_names(expr) == {"a_total", "b", "c", "d", "e"}
    assert Selector("d", frozenset({"x"})) in selectors(expr)


def test_grafana_variables_inside_ranges_and_matchers() -> None:
    expr = 'rate(x_total{job="$job"}[$__rate_interval]) + y{job="${job}"}'
    assert selectors(expr) == [
        Selector("x_total", frozenset({"job"})),
        Selector("y", frozenset({"job"})),
    ]
    out = substitute(expr, {"job": "agent"}, rate_interval="2m")
    assert out == 'rate(x_total{job="agent"}[2m]) + y{job="agent"}'


def test_substitute_range_and_interval_builtins() -> None:
    out = substitute(
        "increase(x[$__range]) / $__range_s + y[$__interval]", {}, interval="5s", range_s=600
    )
    assert out == "increase(x[600s]) / 600 + y[5s]"


def test_substitute_refuses_an_unknown_variable() -> None:
    with pytest.raises(DashboardError, match=r"\$instance"):
        substitute('up{instance="$instance"}', {"job": "agent"})


def test_unbalanced_brackets_are_an_error() -> None:
    with pytest.raises(DashboardError, match="unbalanced"):
        selectors("sum(rate(x[5m])")
    with pytest.raises(DashboardError, match="tokenize"):
        selectors("x ~ y")


def test_template_variables_take_current_values_and_skip_data_sources() -> None:
    dashboard = {
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "current": {"value": "prom"}},
                {"name": "job", "type": "query", "current": {"value": "agent"}},
                {"name": "kind", "type": "custom", "current": {"value": ["a", "b"]}},
            ]
        }
    }
    assert template_variables(dashboard) == {"job": "agent", "kind": "a|b"}


def test_recorded_labels_come_from_the_level() -> None:
    assert recorded_labels("job_breaker:circuit_breaker_open:ratio_avg5m") == {"job", "breaker"}
    assert recorded_labels("http_requests_total") == set()
