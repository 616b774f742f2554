"""Alertmanager: amtool checks, routing per severity, inhibition, and a live delivery run."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos.dashboards.assets import (
    ALERTMANAGER_CONFIG,
    ALERTMANAGER_ROUTE_TESTS,
    alert_rules,
    alertmanager_config,
)

Run = Callable[..., Any]
CASES = yaml.safe_load(ALERTMANAGER_ROUTE_TESTS.read_text())["cases"]
CONFIG = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())


def test_amtool_accepts_the_config(run_tool: Run) -> None:
    result = run_tool("amtool", "check-config", str(ALERTMANAGER_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_amtool_accepts_the_config_pointed_at_another_sink(run_tool: Run, tmp_path: Path) -> None:
    path = tmp_path / "alertmanager.yml"
    doc = alertmanager_config("http://127.0.0.1:15001/alerts", group_wait="1s")
    path.write_text(yaml.safe_dump(doc))
    result = run_tool("amtool", "check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    urls = {h["url"] for r in doc["receivers"] for h in r.get("webhook_configs", [])}
    assert urls == {"http://127.0.0.1:15001/alerts"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_route(run_tool: Run, case: dict[str, Any]) -> None:
    labels = [f"{k}={v}" for k, v in case["labels"].items()]
    expected = ",".join(case["receivers"])
    result = run_tool(
        "amtool", "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}",
        f"--verify.receivers={expected}", *labels,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == case["receivers"]


def test_every_severity_the_rules_use_has_a_routing_case() -> None:
    used = {rule["labels"]["severity"] for rule in alert_rules()}
    pinned = {c["labels"]["severity"] for c in CASES if "severity" in c["labels"]}
    assert used <= pinned
    receivers = {r["name"] for r in CONFIG["receivers"]}
    assert {r for c in CASES for r in c["receivers"]} <= receivers


def _regex_names(matchers: list[str]) -> set[str]:
    """Alert names an inhibit rule's alertname matcher lists."""
    for matcher in matchers:
        match = re.fullmatch(r'alertname=~?"([^"]+)"', matcher)
        if match:
            return set(match.group(1).split("|"))
    return set()


def test_inhibit_rules_name_real_alerts_that_share_the_equal_labels() -> None:
    rules = {rule["alert"]: rule for rule in alert_rules()}
    for inhibit in CONFIG["inhibit_rules"]:
        for side in ("source_matchers", "target_matchers"):
            names = _regex_names(inhibit[side])
            assert names <= set(rules), f"{side} names unknown alerts: {names - set(rules)}"
        sources = _regex_names(inhibit["source_matchers"])
        for name in sources:
            # A source without the equal labels would match every target lacking them too.
            for label in inhibit["equal"]:
                assert label in rules[name]["labels"] or label in rules[name]["expr"], (name, label)


@pytest.mark.integration
def test_alertmanager_delivers_by_severity_and_inhibits_symptoms(alertmanager: Any) -> None:
    def alert(name: str, **labels: str) -> dict[str, Any]:
        return {"labels": {"alertname": name, **labels}, "annotations": {"summary": name}}

    alertmanager.post(
        [
            alert("PostgresDown", severity="critical", component="postgres", dependency="postgres"),
            alert("CircuitBreakerOpen", severity="warning", component="agent", breaker="audit",
                  dependency="postgres", job="agent"),
            alert("CircuitBreakerOpen", severity="warning", component="agent", breaker="pms",
                  dependency="pms", job="agent"),
            alert("RedisMaxmemoryUnset", severity="info", component="redis"),
        ]
    )  # fmt: skip
    sink = alertmanager.sink
    page = sink.wait_for(lambda n: n["receiver"] == "pager", timeout=30)
    assert [a["labels"]["alertname"] for a in page["alerts"]] == ["PostgresDown"]
    ticket = sink.wait_for(lambda n: n["receiver"] == "tickets", timeout=30)
    assert [a["labels"]["breaker"] for a in ticket["alerts"]] == ["pms"]

    held = {
        (a["labels"]["alertname"], a["labels"].get("breaker")): a for a in alertmanager.alerts()
    }
    assert held[("CircuitBreakerOpen", "audit")]["status"]["inhibitedBy"]
    assert held[("CircuitBreakerOpen", "pms")]["status"]["inhibitedBy"] == []
    assert held[("RedisMaxmemoryUnset", None)]["status"]["state"] == "active"

    time.sleep(3)  # three more group_interval rounds: nothing else may arrive
    delivered = {
        (n["receiver"], a["labels"]["alertname"], a["labels"].get("breaker"))
        for n in sink.received()
        for a in n["alerts"]
    }
    assert delivered == {
        ("pager", "PostgresDown", None),
        ("tickets", "CircuitBreakerOpen", "pms"),
    }
