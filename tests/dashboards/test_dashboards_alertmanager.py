"""Alertmanager: amtool checks, routing per severity, inhibition, and live delivery runs.

Coverage gate: every receiver has a routing case (checked with amtool), every inhibit
rule a case it mutes and one it leaves alone (``inhibition-tests.yml``, proved against a
real Alertmanager), and one inhibition is proved on the running stack's Alertmanager,
notifications and all.
"""

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
from chaos.dashboards.inhibition import applies, matches

Run = Callable[..., Any]
CASES = yaml.safe_load(ALERTMANAGER_ROUTE_TESTS.read_text())["cases"]
CONFIG = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
INHIBITIONS = yaml.safe_load((ALERTMANAGER_CONFIG.parent / "inhibition-tests.yml").read_text())[
    "cases"
]


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


def test_every_receiver_has_a_routing_case() -> None:
    receivers = {r["name"] for r in CONFIG["receivers"]}
    assert receivers - {r for c in CASES for r in c["receivers"]} == set()


def test_every_inhibit_rule_has_a_case_it_mutes_and_one_it_leaves_alone() -> None:
    for i, rule in enumerate(CONFIG["inhibit_rules"]):
        mutes = [
            c for c in INHIBITIONS if c["inhibited"] and applies(rule, c["source"], c["target"])
        ]
        spares = [
            c
            for c in INHIBITIONS
            if not c["inhibited"] and matches(c["source"], rule["source_matchers"])
        ]
        assert mutes, f"inhibit rule {i} has no case it mutes"
        assert spares, f"inhibit rule {i} has no case it must leave alone"


@pytest.mark.parametrize("case", INHIBITIONS, ids=lambda c: c["name"])
def test_the_inhibition_cases_use_real_alerts(case: dict[str, Any]) -> None:
    rules = {rule["alert"]: rule for rule in alert_rules()}
    posted_by_agent = {"AgentBreakerOpened", "AgentAuditFallback"}
    for side in ("source", "target"):
        name = case[side]["alertname"]
        assert name in rules or name in posted_by_agent
        if name in rules:  # the case carries the labels the rule really sets
            assert rules[name]["labels"].items() <= case[side].items(), (side, name)


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


def _alert(labels: dict[str, str], ends_in_s: float = 120) -> dict[str, Any]:
    from datetime import UTC, datetime, timedelta

    ends = datetime.now(UTC) + timedelta(seconds=ends_in_s)
    return {"labels": labels, "annotations": {"summary": "test"}, "endsAt": ends.isoformat()}


def _held(url: str, test_id: str) -> dict[str, dict[str, Any]]:
    import httpx

    alerts = httpx.get(f"{url}/api/v2/alerts", timeout=5).json()
    return {a["labels"]["alertname"]: a for a in alerts if a["labels"].get("test_id") == test_id}


def _post(url: str, case: dict[str, Any], test_id: str, ends_in_s: float = 120) -> None:
    import httpx

    alerts = [
        _alert({**case[side], "test_id": test_id}, ends_in_s) for side in ("source", "target")
    ]
    httpx.post(f"{url}/api/v2/alerts", json=alerts, timeout=5).raise_for_status()


def _wait_held(url: str, test_id: str) -> dict[str, dict[str, Any]]:
    """Both alerts of a case as Alertmanager holds them, once it has processed them."""
    deadline = time.monotonic() + 15
    held: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        held = _held(url, test_id)
        if len(held) == 2 and all(a["status"]["state"] != "unprocessed" for a in held.values()):
            break
        time.sleep(0.2)
    return held


def _prove(url: str, case: dict[str, Any], test_id: str) -> dict[str, dict[str, Any]]:
    """Post the case's two alerts; return them as Alertmanager holds them, then resolve."""
    _post(url, case, test_id)
    try:
        return _wait_held(url, test_id)
    finally:
        _post(url, case, test_id, ends_in_s=-1)


@pytest.mark.integration
@pytest.mark.parametrize("case", INHIBITIONS, ids=lambda c: c["name"])
def test_the_inhibition_case_holds_on_a_real_alertmanager(
    alertmanager: Any, case: dict[str, Any]
) -> None:
    held = _prove(alertmanager.url, case, f"case-{INHIBITIONS.index(case)}")
    target = held[case["target"]["alertname"]]
    source = held[case["source"]["alertname"]]
    assert source["status"]["inhibitedBy"] == []
    assert bool(target["status"]["inhibitedBy"]) is case["inhibited"]
    if case["inhibited"]:
        assert target["status"]["inhibitedBy"] == [source["fingerprint"]]


@pytest.mark.integration
@pytest.mark.slow
def test_one_inhibition_holds_on_the_running_stack_and_only_the_cause_is_notified(
    stack: Any,
) -> None:
    """The stack's own Alertmanager, with the config `chaoslab up` wrote, and its sink."""
    import uuid

    import httpx

    case = next(c for c in INHIBITIONS if c["inhibited"] and c["target"].get("source") == "agent")
    test_id = f"stack-{uuid.uuid4().hex[:8]}"
    url = stack.url("alertmanager")

    def notified() -> set[str]:
        notes = httpx.get(f"{stack.url('alert_sink')}/alerts", timeout=5).json()
        return {
            f"{n['receiver']}:{a['labels']['alertname']}"
            for n in notes
            for a in n["alerts"]
            if a["labels"].get("test_id") == test_id and a["status"] == "firing"
        }

    _post(url, case, test_id)
    try:
        held = _wait_held(url, test_id)
        target = held[case["target"]["alertname"]]
        source = held[case["source"]["alertname"]]
        assert target["status"]["inhibitedBy"] == [source["fingerprint"]]
        assert [r["name"] for r in target["receivers"]] == ["tickets"]  # routed, held back
        deadline = time.monotonic() + 15
        while "pager:PostgresDown" not in notified() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)  # two more group flushes: the muted alert must still not arrive
        assert notified() == {"pager:PostgresDown"}
    finally:
        _post(url, case, test_id, ends_in_s=-1)
