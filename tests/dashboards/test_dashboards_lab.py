"""The lab profile's rules: generated from the shipped ones, every duration compressed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos.dashboards import DashboardError
from chaos.dashboards.assets import RULE_FILES, write_prometheus_config
from chaos.dashboards.lab import (
    LAB_TIME_COMPRESSION,
    compress,
    compress_expr,
    lab_rules_text,
    parse_seconds,
)

Run = Callable[..., Any]


def rules_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [rule for group in doc["groups"] for rule in group["rules"]]


@pytest.mark.parametrize(
    ("expr", "lab"),
    [
        ("rate(x[5m])", "rate(x[10s])"),
        ("increase(x[1h])", "increase(x[2m])"),
        ("avg_over_time(x[3d])", "avg_over_time(x[2h24m])"),
        ("rate(x[1m])", "rate(x[6s])"),  # never below a few lab scrapes
        ("max_over_time(rate(x[5m])[1h:1m])", "max_over_time(rate(x[10s])[2m:2s])"),
        ('x{status=~"5[0-9][0-9]"} > 0', 'x{status=~"5[0-9][0-9]"} > 0'),  # a regex, not a range
        ("up == 0", "up == 0"),
    ],
)
def test_compress_expr(expr: str, lab: str) -> None:
    assert compress_expr(expr, 30) == lab


def test_durations() -> None:
    assert parse_seconds("1h30m") == 5400
    assert compress("1m", 30) == "2s"
    assert compress("15m", 30) == "30s"
    with pytest.raises(DashboardError, match="not a Prometheus duration"):
        parse_seconds("5 minutes")


@pytest.mark.parametrize("source", RULE_FILES, ids=lambda p: p.name)
def test_lab_rules_change_only_durations(source: Path) -> None:
    production = rules_of(yaml.safe_load(source.read_text()))
    lab = rules_of(yaml.safe_load(lab_rules_text(source.read_text())))
    assert len(lab) == len(production)
    for prod, fast in zip(production, lab, strict=True):
        assert {k: v for k, v in fast.items() if k not in ("for", "expr")} == {
            k: v for k, v in prod.items() if k not in ("for", "expr")
        }
        assert ("for" in fast) == ("for" in prod)
        if "for" in prod:
            assert parse_seconds(fast["for"]) == parse_seconds(prod["for"]) / LAB_TIME_COMPRESSION
        assert fast["expr"] == compress_expr(prod["expr"], LAB_TIME_COMPRESSION)


def test_the_stack_writes_lab_rules_from_the_shipped_source(run_tool: Run, tmp_path: Path) -> None:
    config = write_prometheus_config(
        tmp_path, {"agent": "127.0.0.1:18080", "proxy": "127.0.0.1:18474"},
        time_compression=LAB_TIME_COMPRESSION, job_intervals={"proxy": "1s"},
    )  # fmt: skip
    for source in RULE_FILES:
        written = (tmp_path / "rules" / source.name).read_text()
        assert written == lab_rules_text(source.read_text())
    doc = yaml.safe_load(config.read_text())
    proxy = next(j for j in doc["scrape_configs"] if j["job_name"] == "proxy")
    assert proxy["scrape_interval"] == proxy["scrape_timeout"] == "1s"
    result = run_tool("promtool", "check", "config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr


DEPENDENCY_DOWN_TEST = """
rule_files: [{rules}]
evaluation_interval: 1s
tests:
  - interval: 1s
    input_series:
      - series: dependency_up{{job="agent", instance="a:1", dependency="redis"}}
        values: 1 1 0x10
    promql_expr_test:
      - eval_time: 6s
        expr: count(ALERTS{{alertname="AgentDependencyDown", alertstate="firing"}}) or vector(0)
        exp_samples: [{{labels: "{{}}", value: {expected}}}]
"""


@pytest.mark.parametrize("lab", [True, False], ids=["lab", "production"])
def test_a_lab_alert_fires_within_seconds_a_production_one_does_not(
    run_tool: Run, tmp_path: Path, lab: bool
) -> None:
    write_prometheus_config(
        tmp_path,
        {"agent": "127.0.0.1:18080"},
        time_compression=LAB_TIME_COMPRESSION if lab else None,
    )
    test = tmp_path / "test.yml"
    rules = tmp_path / "rules" / "alerts.yml"
    test.write_text(DEPENDENCY_DOWN_TEST.format(rules=rules, expected=1 if lab else 0))
    result = run_tool("promtool", "test", "rules", str(test))
    assert result.returncode == 0, result.stdout + result.stderr
