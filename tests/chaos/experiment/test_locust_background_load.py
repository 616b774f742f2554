"""An experiment can use a Locust scenario as its guest traffic (`chaoslab run --load`)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chaos.experiment import run_experiment
from chaos.experiment.model import Load, catalogue
from chaos.stack.state import StackState

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.slow]


def test_postgres_outage_under_locust_load(stack: StackState) -> None:
    exp = replace(catalogue()["postgres-outage"], load=Load(locust="steady"))
    journal = run_experiment(exp, stack, progress=lambda _: None)
    verdicts = {v.kind: v for v in journal.verdicts}
    assert journal.status == "passed", journal.reason()
    assert journal.load["kind"] == "LocustLoad" and journal.load["scenario"] == "steady"
    # Every channel Locust drives is judged, WhatsApp included, each message by its id.
    assert {s.channel for s in journal.samples} == {"api", "whatsapp"}
    assert verdicts["no_5xx"].observed["channels"] == ["api", "whatsapp"]
    audit = verdicts["no_lost_audit_events"].observed
    acknowledged = {s.message_id for s in journal.samples if s.acknowledged}
    assert audit["acknowledged"] == audit["present"] == len(acknowledged) > 20
    figures = journal.figures
    assert figures["p95_before_s"] and figures["p95_during_s"] and figures["p95_after_s"]
