"""An alert check that cannot fail is worthless: break a rule, watch the experiment fail.

The stack's Prometheus gets an AgentDependencyDown whose threshold is never reached
(``dependency_up`` is 0 or 1, never -1) and reloads it; redis-outage-long, which expects
that alert, must then fail on exactly that expectation while its other verdicts hold.
The rule file is restored and reloaded afterwards, whatever happens.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chaos.experiment import run_experiment
from chaos.experiment.model import catalogue
from chaos.stack.state import StackState

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.slow]

RULE = 'max by (job, instance, dependency) (dependency_up{job="agent"}) == 0'
NEVER = 'max by (job, instance, dependency) (dependency_up{job="agent"}) == -1'


def load_rules(prometheus: str, rules: Path, text: str) -> None:
    """Write ``text`` as the rule file, reload Prometheus and wait until it serves it."""
    rules.write_text(text, encoding="utf-8")
    httpx.post(f"{prometheus}/-/reload", timeout=10).raise_for_status()
    wanted = NEVER if NEVER in text else RULE
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
        exprs = [
            r["query"] for g in groups for r in g["rules"] if r["name"] == "AgentDependencyDown"
        ]
        if exprs and exprs[0].replace(" ", "") == wanted.replace(" ", ""):
            return
        time.sleep(0.5)
    raise AssertionError("Prometheus did not load the rule file")


@pytest.fixture
def never_firing_dependency_alert(stack: StackState) -> Iterator[None]:
    rules = Path(stack.state_dir) / "prometheus" / "rules" / "alerts.yml"
    original = rules.read_text(encoding="utf-8")
    assert RULE in original
    try:
        load_rules(stack.url("prometheus"), rules, original.replace(RULE, NEVER))
        yield
    finally:
        load_rules(stack.url("prometheus"), rules, original)


def test_redis_outage_fails_on_its_alert_when_the_rule_never_fires(
    stack: StackState, never_firing_dependency_alert: None
) -> None:
    journal = run_experiment(catalogue()["redis-outage-long"], stack, progress=lambda _: None)
    assert journal.status == "failed", journal.reason()
    (alert,) = [v for v in journal.verdicts if v.kind == "alert"]
    assert alert.status == "failed"
    assert alert.detail == "AgentDependencyDown never became active after the fault started"
    # Everything else the experiment promises still holds: only the alert check fails.
    others = [v for v in journal.verdicts if v.kind != "alert"]
    assert [v.expectation for v in others if v.status != "passed"] == []
