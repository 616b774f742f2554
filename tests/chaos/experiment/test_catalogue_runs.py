"""Every catalogue experiment against the real native stack: each run must PASS.

The stack runs the lab profile (breakers reset after 5 s, retries back off 0.1/0.2/0.4 s),
so the whole catalogue takes about five minutes. ``test_null_faults.py`` runs the same
catalogue with faults that are accepted but never applied, where none may pass.
"""

from __future__ import annotations

import pytest

from chaos.experiment import run_experiment
from chaos.experiment.model import catalogue
from chaos.experiment.runner import schedule_lags
from chaos.faults import verify_clean
from chaos.stack.state import StackState
from chaos.toxiproxy import ToxiproxyClient

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.slow]


@pytest.mark.parametrize("name", sorted(catalogue()))
def test_catalogue_experiment_passes(stack: StackState, name: str) -> None:
    journal = run_experiment(catalogue()[name], stack, progress=lambda _: None)
    assert journal.status == "passed", journal.reason()
    assert journal.figures["requests"] > 0
    assert all(r.ok for r in journal.rollbacks)
    # Every fault was confirmed by the proxy, and its removal read back.
    assert all(f.started_at and f.ended_at and f.removed_ok for f in journal.faults)
    assert max(schedule_lags(journal)) < 1.0
    # Prometheus, up in the native stack, is read beside the agent's own counters.
    assert journal.timeline.times("prometheus")
    with ToxiproxyClient(stack.url("proxy_api")) as client:
        assert verify_clean(client) == []
