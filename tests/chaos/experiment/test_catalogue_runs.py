"""Every catalogue experiment against the real native stack: each verdict must be PASSED.

The stack runs the lab profile (breakers reset after 5 s, retries back off 0.1/0.2/0.4 s),
so the whole catalogue takes about five minutes.
"""

from __future__ import annotations

import pytest

from chaos.experiment import run_experiment
from chaos.experiment.model import catalogue
from chaos.faults import verify_clean
from chaos.stack.state import StackState
from chaos.toxiproxy import ToxiproxyClient

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.slow]


@pytest.mark.parametrize("name", sorted(catalogue()))
def test_catalogue_experiment_passes(stack: StackState, name: str) -> None:
    journal = run_experiment(catalogue()[name], stack, progress=lambda _: None)
    failed = [
        f"{e['expectation']}: {e['detail']}" for e in journal["expectations"] if not e["passed"]
    ]
    assert journal["status"] == "passed", f"{journal.get('error')} {failed}"
    assert journal["figures"]["requests"] > 0
    assert all(r["ok"] for r in journal["rollbacks"])
    # Prometheus, up in the native stack, is sampled beside the agent's own counters.
    assert any(str(row[1]).startswith("prometheus:") for row in journal["timeline"])
    with ToxiproxyClient(stack.url("proxy_api")) as client:
        assert verify_clean(client) == []
