"""Every catalogue experiment against the real native stack: each run must PASS.

That includes its alerts: every expected alert fires and reaches its receiver, and no
run pages unexpectedly, across the whole catalogue. The dashboards' chaos windows,
captured into each journal, match the faults the proxy confirmed within 2 s.

The stack runs the lab profile (breakers reset after 5 s, retries back off 0.1/0.2/0.4 s),
so the whole catalogue takes about eight minutes (the five dependency experiments about
two of them). ``test_null_faults.py`` runs the same catalogue with faults that are
accepted but never applied, where none may pass.
"""

from __future__ import annotations

import pytest

from chaos.experiment import run_experiment
from chaos.experiment.model import catalogue
from chaos.experiment.runner import schedule_lags
from chaos.faults import TOXIC_ATTRIBUTES, verify_clean
from chaos.journal import Journal
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
    quiet = next(v for v in journal.verdicts if v.kind == "alerts_quiet")
    assert quiet.observed["unexpected_pages"] == []
    for alert in (v for v in journal.verdicts if v.kind == "alert"):
        assert alert.observed["fired_after_s"] >= 0, alert.detail
    assert_chaos_windows_match(journal)


def assert_chaos_windows_match(journal: Journal) -> None:
    """Every proxy fault long enough for a scrape is one dashboard window, within 2 s."""
    overview = next(p for p in journal.panels if p["dashboard"] == "hcl-agent-overview")
    windows = [w for w in overview["windows"] if w["tags"][-1] == journal.run_id]
    faults = [
        f
        for f in journal.faults
        if f.type in TOXIC_ATTRIBUTES or f.type == "down"
        if f.started_at and f.ended_at and f.ended_at - f.started_at >= 2
    ]
    assert len(windows) >= len(faults), (windows, faults)
    for fault in faults:
        assert fault.started_at is not None and fault.ended_at is not None
        nearest = min(windows, key=lambda w: abs(w["start"] - fault.started_at))
        assert abs(nearest["start"] - fault.started_at) <= 2.0, (nearest, fault)
        assert abs(nearest["end"] - fault.ended_at) <= 2.0, (nearest, fault)
