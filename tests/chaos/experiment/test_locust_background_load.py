"""An experiment can use a Locust scenario as its background load (`chaoslab run --load`)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chaos.experiment import run_experiment
from chaos.experiment.model import Load, catalogue
from chaos.stack.state import StackState

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.slow]


def test_postgres_outage_under_locust_load(stack: StackState) -> None:
    exp = replace(catalogue()["postgres-outage"], load=Load(locust="steady"))
    lines: list[str] = []
    journal = run_experiment(exp, stack, progress=lines.append)
    assert any("Locust scenario steady" in line for line in lines)
    verdicts = {e["kind"]: e for e in journal["expectations"]}
    assert journal["status"] == "passed", verdicts
    figures = journal["figures"]
    assert figures["requests"] > 20
    assert figures["p95_before_s"] and figures["p95_during_s"] and figures["p95_after_s"]
    assert verdicts["no_lost_audit_events"]["observed"]["accepted"] == figures["audit_rows"]
