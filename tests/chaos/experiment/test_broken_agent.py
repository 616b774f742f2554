"""A verifier that cannot fail is worthless: break the agent, watch the verdict fail."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.experiment import run_experiment
from chaos.experiment.model import catalogue
from chaos.stack import native
from chaos.stack.config import Ports, StackSettings
from chaos.stack.processes import free_port
from chaos.stack.state import StackState

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.slow]


@pytest.fixture(scope="module")
def breakerless_stack() -> Iterator[StackState]:
    """A second stack whose audit breaker can never open (fail_max far above any run)."""
    settings = StackSettings(
        state_dir=Path(tempfile.mkdtemp(prefix="hcl-broken-")),
        ports=Ports(**{name: free_port() for name in Ports.model_fields}),
        agent_env={"AGENT_AUDIT__BREAKER__FAIL_MAX": "1000000"},
    )
    state = native.up(settings, progress=lambda _: None)
    try:
        yield state
    finally:
        native.down(settings, progress=lambda _: None)
        shutil.rmtree(settings.state_dir, ignore_errors=True)


def test_postgres_outage_fails_when_the_audit_breaker_never_opens(
    breakerless_stack: StackState,
) -> None:
    journal = run_experiment(
        catalogue()["postgres-outage"], breakerless_stack, progress=lambda _: None
    )
    assert journal.status == "failed"
    verdicts = {v.kind: v for v in journal.verdicts}
    breaker = verdicts["breaker_transitions"]
    assert breaker.status == "failed"
    assert "audit breaker never went closed>open" in breaker.detail
    # The rest of the promise still holds without the breaker: only the breaker check fails.
    assert verdicts["no_lost_audit_events"].status == "passed", verdicts["no_lost_audit_events"]
    assert verdicts["no_5xx"].status == "passed"
