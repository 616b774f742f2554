"""SLOs as code: the generated rules and promtool tests match the SLO file and catch errors."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.metrics import LATENCY_BUCKETS
from chaos.dashboards import DashboardError, slo
from chaos.dashboards.assets import PROMTOOL_TESTS_DIR, alert_rules

Run = Callable[..., Any]
SPEC = slo.load()


def test_the_checked_in_files_are_what_the_slo_file_generates() -> None:
    assert slo.drift() == [], "run: python -m chaos.dashboards.slo"
    assert slo.main(["--check"]) == 0


def test_a_changed_objective_is_drift() -> None:
    stricter = dataclasses.replace(SPEC.slos[0], objective=0.995)
    changed = dataclasses.replace(SPEC, slos=(stricter, *SPEC.slos[1:]))
    assert slo.SLO_RULES in slo.drift(changed)
    text = slo.outputs(changed)[slo.SLO_RULES]
    assert "> 0.072\n" in text  # 14.4 x the 0.5 % budget


def test_every_slo_and_tier_has_an_alert_with_the_workbook_windows() -> None:
    generated = {r["alert"]: r for r in alert_rules(slo.SLO_RULES)}
    assert set(generated) == {s.alert(t) for s in SPEC.slos for t in SPEC.burn_rates}
    fast = generated["AgentErrorBudgetBurnFast"]
    assert fast["expr"].split() == [
        'job:http_requests_5xx_per_request:ratio_rate1h{job="agent"}', ">", "0.144",
        "and", 'job:http_requests_5xx_per_request:ratio_rate5m{job="agent"}', ">", "0.144",
    ]  # fmt: skip
    assert fast["labels"] == {"severity": "critical", "component": "agent", "slo": "availability"}
    slow_latency = generated["AgentLatencyBudgetBurnSlow"]
    assert "ratio_rate3d" in slow_latency["expr"]
    assert "> 0.05" in slow_latency["expr"]
    assert slow_latency["labels"]["severity"] == "warning"


def test_the_latency_threshold_is_a_bucket_boundary_of_the_agent() -> None:
    (latency,) = [s for s in SPEC.slos if s.threshold_s is not None]
    assert latency.threshold_s in LATENCY_BUCKETS


def test_the_records_keep_the_names_dashboards_and_alerts_read() -> None:
    groups = yaml.safe_load(slo.SLO_RULES.read_text())["groups"]
    records = {r["record"] for g in groups for r in g["rules"] if "record" in r}
    for window in ("5m", "30m", "1h", "6h", "3d"):
        assert f"job:http_requests_5xx_per_request:ratio_rate{window}" in records


def test_the_generated_tests_cover_every_tier_above_below_and_the_1x_burn() -> None:
    names = [
        case["name"]
        for path in sorted(PROMTOOL_TESTS_DIR.glob("slo-*.yml"))
        for case in yaml.safe_load(path.read_text())["tests"]
    ]
    for s in SPEC.slos:
        for t in SPEC.burn_rates:
            assert f"{s.alert(t)}: a burn just above {t.factor:g}x fires within {t.long}" in names
            assert f"{s.alert(t)}: a burn just below {t.factor:g}x never fires" in names
        assert f"{s.name}: a 1x burn never pages" in names


def test_a_bad_slo_file_is_refused(tmp_path: Path) -> None:
    doc = yaml.safe_load(slo.SLO_FILE.read_text())
    doc["burn_rates"][0]["short"] = "2h"  # longer than its long window
    bad = tmp_path / "slos.yml"
    bad.write_text(yaml.safe_dump(doc))
    with pytest.raises(DashboardError, match="short must be below long"):
        slo.load(bad)


@pytest.mark.slow
def test_the_generated_promtool_tests_fail_on_a_wrong_threshold(
    run_tool: Run, tmp_path: Path
) -> None:
    """A 14.4x page that waits for 20 % errors is caught by the generated tests."""
    rules, tests = tmp_path / "rules", tmp_path / "tests"
    rules.mkdir()
    tests.mkdir()
    (rules / "slo.yml").write_text(slo.SLO_RULES.read_text().replace("> 0.144\n", "> 0.2\n"))
    shutil.copy(PROMTOOL_TESTS_DIR / "slo-fast.yml", tests)
    result = run_tool("promtool", "test", "rules", "slo-fast.yml", cwd=tests)
    assert result.returncode == 1
    assert "AgentErrorBudgetBurnFast: a burn just above 14.4x fires within 1h" in result.stderr
