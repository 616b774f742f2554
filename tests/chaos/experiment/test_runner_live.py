"""The runner against the real stack: a hypothesis that does not hold injects nothing."""

from __future__ import annotations

import pytest

from chaos.experiment import run_experiment
from chaos.experiment.model import ensure_experiment
from chaos.faults import verify_clean
from chaos.stack.state import StackState
from chaos.toxiproxy import ToxiproxyClient

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

IMPOSSIBLE = {
    "name": "never-steady",
    "title": "A steady state that cannot hold",
    "purpose": "The runner must refuse to inject a fault into a system not in its steady state.",
    "steady_state": [
        {"name": "breaker-shows-five", "type": "metric", "metric": "audit_circuit_breaker_state",
         "equals": 5}
    ],
    "method": [{"fault": {"proxy": "postgres", "type": "down"}, "start_s": 0, "duration_s": 5}],
    "expectations": [{"fallback_writes": {"min": 1}}],
}  # fmt: skip


def test_no_fault_is_injected_while_the_steady_state_does_not_hold(stack: StackState) -> None:
    journal = run_experiment(
        ensure_experiment(IMPOSSIBLE), stack, progress=lambda _: None, steady_wait_s=2.0
    )
    assert journal.status == "failed"
    assert journal.error is not None
    assert journal.error.startswith("steady state not met before the method")
    assert "audit_circuit_breaker_state = 0, expected 5" in journal.error
    assert journal.faults == [] and journal.verdicts == []
    # It kept asking for the two seconds it was given before giving up.
    assert journal.ended_at is not None and journal.ended_at - journal.started_at >= 2.0
    with ToxiproxyClient(stack.url("proxy_api")) as client:
        assert verify_clean(client) == []
