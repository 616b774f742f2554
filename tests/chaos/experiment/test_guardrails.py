"""Guardrails: each watched value on synthetic data, refusals that name the field, and a
real run stopped by one (faults removed, proxy verified clean, the run ABORTED)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from chaos.exceptions import ExperimentError
from chaos.experiment import run_experiment
from chaos.experiment.guardrails import Guard, ensure_guardrail, reading
from chaos.experiment.model import ensure_experiment
from chaos.faults import verify_clean
from chaos.metrics import Scrape, Timeline
from chaos.stack.state import StackState
from chaos.toxiproxy import ToxiproxyClient
from chaos.traffic import Sample

NOW = 2000.0


def sample(ago: float, latency: float = 0.05, status: int = 200) -> Sample:
    t = NOW - ago
    return Sample(t, t, t + latency, status, "api", f"m{ago}")


def value(
    spec: dict[str, Any],
    samples: list[Sample] | None = None,
    waiting: list[float] | None = None,
    timeline: Timeline | None = None,
) -> float | None:
    g = ensure_guardrail(spec, "g")
    return reading(g, NOW, samples or [], waiting or [], timeline or Timeline(), None)


def test_error_ratio_counts_the_window_and_needs_requests() -> None:
    recent = [sample(1), sample(2, status=503), sample(3, status=0), sample(4), sample(4.5)]
    old = [sample(30, status=500)] * 10  # outside the 5 s window
    assert value({"metric": "error_ratio", "above": 0.1}, recent + old) == pytest.approx(0.4)
    assert value({"metric": "error_ratio", "above": 0.1}, recent[:2]) is None


def test_a_stall_shows_in_latency_before_any_answer_comes_back() -> None:
    answered = [sample(4, 0.02) for _ in range(4)]
    stalled = [NOW - 3.0, NOW - 2.5]  # sent, no answer yet
    # Interpolated between the two waiting requests (2.5 s and 3 s old).
    assert value({"metric": "latency", "above": 1, "quantile": 0.95}, answered, stalled) == (
        pytest.approx(2.875)
    )


def test_counters_and_gauges_come_from_the_metric_readings() -> None:
    declared = frozenset({"audit_fallback_writes_total", "audit_fallback_pending"})
    tl = Timeline.of(
        (NOW - 10 + i, Scrape({"audit_fallback_writes_total": [({}, 2.0 * i)],
                               "audit_fallback_pending": [({}, float(i))]}, declared))
        for i in range(11)
    )  # fmt: skip
    assert (
        value({"metric": "counter", "name": "audit_fallback_writes_total", "above": 5}, timeline=tl)
        == 10.0
    )
    assert (
        value({"metric": "gauge", "name": "audit_fallback_pending", "above": 5}, timeline=tl)
        == 10.0
    )
    assert value({"metric": "counter", "name": "nothing_total", "above": 5}, timeline=tl) is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"metric": "latency"}, "above: is required"),
        ({"metric": "mood", "above": 1}, "metric: must be one of"),
        ({"metric": "counter", "above": 1}, "name: is required"),
        ({"metric": "promql", "above": 1}, "query: is required"),
        ({"metric": "latency", "above": 1, "window_s": 0}, "window_s: must be above 0"),
        ({"metric": "latency", "above": 1, "sometimes": True}, "unknown field(s) sometimes"),
    ],
)
def test_bad_guardrails_name_the_field(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ExperimentError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ensure_guardrail(entry, "abort_when[0]")


def test_the_guard_stops_the_schedule_on_the_first_breach() -> None:
    stop = threading.Event()
    now = time.time()
    samples = [Sample(now - 0.5, now - 0.5, now, 503, "api", f"m{i}") for i in range(6)]
    guard = Guard([ensure_guardrail({"metric": "error_ratio", "above": 0.5}, "g")],
                  lambda: samples, list, Timeline(), None, stop)  # fmt: skip
    guard.start()
    assert stop.wait(5)
    assert guard.breach is not None and guard.breach.value == 1.0
    assert guard.breach.detail == "error ratio over 5 s above 0.5: 1"


SLOW_REDIS = {
    "name": "guarded-redis-latency",
    "title": "Redis latency far beyond what guests may wait",
    "purpose": "A guardrail stops the run before the fault's time is up.",
    "steady_state": [{"name": "live", "type": "http", "path": "/health/live"}],
    "method": [{"fault": {"proxy": "redis", "type": "latency", "attributes": {"latency": 400}},
                "start_s": 0, "duration_s": 30}],
    "baseline_s": 1,
    "settle_s": 1,
    "load": {"rate_per_s": 10},
    "expectations": [{"session_save_retries": {"min": 1}}],
    "abort_when": [{"metric": "latency", "quantile": 0.9, "window_s": 2, "above": 1.0}],
}  # fmt: skip


@pytest.mark.integration
@pytest.mark.chaos
def test_a_breached_guardrail_aborts_the_run_and_leaves_the_proxy_clean(stack: StackState) -> None:
    began = time.monotonic()
    journal = run_experiment(ensure_experiment(SLOW_REDIS), stack, progress=lambda _: None)
    assert journal.status == "aborted" and journal.exit_code == 4
    assert journal.error is not None and "guardrail breached" in journal.error
    assert "p90 latency over 2 s above 1" in journal.error
    assert journal.abort is not None and journal.abort["value"] > 1.0
    assert journal.abort["clean_at"] - journal.abort["breached_at"] < 2.0
    assert time.monotonic() - began < 25  # well before the 30 s fault was over
    assert journal.faults[0].removed_ok and journal.verdicts == []
    with ToxiproxyClient(stack.url("proxy_api")) as client:
        assert verify_clean(client) == []
