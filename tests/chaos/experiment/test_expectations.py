"""Evaluators judge evidence and can fail: synthetic timelines with known answers."""

from __future__ import annotations

import pandas as pd

from chaos.experiment.expectations import Evidence, evaluate
from chaos.experiment.model import ensure_expectation
from chaos.traffic import Sample

T0 = 1000.0


def timeline(rows: list[tuple[float, str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["t", "metric", "labels", "value"])


def evidence(
    rows: list[tuple[float, str, str, float]], samples: list[Sample] | None = None, **kw: object
) -> Evidence:
    return Evidence(
        timeline=timeline(rows),
        samples=samples or [],
        fault_start=T0 + 10,
        fault_end=T0 + 20,
        **kw,
    )  # type: ignore[arg-type]


def judge(spec: dict, ev: Evidence):  # type: ignore[no-untyped-def]
    return evaluate(ensure_expectation(spec, "e"), ev)


def breaker_rows(
    points: list[tuple[float, str, str, float]],
) -> list[tuple[float, str, str, float]]:
    rows = [
        (
            T0 + t,
            "circuit_breaker_transitions_total",
            f"breaker=audit,from_state={a},to_state={b}",
            v,
        )
        for t, a, b, v in points
    ]
    rows.append((T0, "audit_fallback_pending", "", 0.0))
    return rows


SEQUENCE = {
    "breaker_transitions": {
        "breaker": "audit",
        "sequence": [
            {"from": "closed", "to": "open", "within_s": 5, "after": "fault_start"},
            {"from": "open", "to": "half-open"},
            {"from": "half-open", "to": "closed", "within_s": 8, "after": "fault_end"},
        ],
    }
}


def test_transitions_in_order_and_in_time_pass() -> None:
    rows = breaker_rows(
        [(12, "closed", "open", 1), (18, "open", "half-open", 1), (24, "half-open", "closed", 1)]
    )
    verdict = judge(SEQUENCE, evidence(rows))
    assert verdict.passed, verdict.detail
    assert [t["to"] for t in verdict.observed["transitions"]] == ["open", "half-open", "closed"]


def test_a_breaker_that_never_opens_fails_with_the_reason() -> None:
    verdict = judge(SEQUENCE, evidence(breaker_rows([])))
    assert not verdict.passed
    assert "audit breaker never went closed>open" in verdict.detail


def test_a_late_transition_fails() -> None:
    rows = breaker_rows(
        [(17, "closed", "open", 1), (18, "open", "half-open", 1), (24, "half-open", "closed", 1)]
    )
    verdict = judge(SEQUENCE, evidence(rows))
    assert not verdict.passed and "7.0 s after fault_start, limit 5" in verdict.detail


def test_no_transitions_expected_fails_when_one_happens() -> None:
    rows = breaker_rows([(12, "closed", "open", 1)])
    verdict = judge({"breaker_transitions": {"breaker": "audit", "sequence": []}}, evidence(rows))
    assert not verdict.passed and "closed>open" in verdict.detail


def ok(at: float, latency: float = 0.05, status: int = 200, degraded: bool = False) -> Sample:
    return Sample(T0 + at, status, latency, degraded, "greeting")


def test_no_5xx_counts_missing_answers_too() -> None:
    good = [ok(i) for i in range(30)]
    assert judge({"no_5xx": {}}, evidence([], good)).passed
    verdict = judge({"no_5xx": {}}, evidence([], [*good, ok(12, status=0)]))
    assert not verdict.passed and "1 of 31" in verdict.detail
    assert not judge({"no_5xx": {}}, evidence([], [])).passed


def test_p95_is_per_phase() -> None:
    samples = [ok(i, 0.05) for i in range(10)] + [ok(10 + i / 2, 2.0) for i in range(20)]
    assert judge({"p95_latency": {"phase": "before", "max_s": 0.1}}, evidence([], samples)).passed
    verdict = judge({"p95_latency": {"phase": "during", "max_s": 1.0}}, evidence([], samples))
    assert not verdict.passed and "p95 during = 2.000 s" in verdict.detail


def test_lost_and_duplicated_audit_events_fail() -> None:
    samples = [ok(i) for i in range(20)]
    assert judge(
        {"no_lost_audit_events": {}}, evidence([], samples, audit_rows=20, audit_distinct=20)
    ).passed
    lost = judge(
        {"no_lost_audit_events": {}}, evidence([], samples, audit_rows=19, audit_distinct=19)
    )
    assert not lost.passed and "20 messages accepted but 19 audit rows" in lost.detail
    dup = judge(
        {"no_lost_audit_events": {}}, evidence([], samples, audit_rows=20, audit_distinct=19)
    )
    assert not dup.passed and "duplicated" in dup.detail


def test_fallback_must_drain_in_time() -> None:
    rows = [
        (T0 + t, "audit_fallback_pending", "", v)
        for t, v in [(0, 0), (12, 5), (19, 9), (22, 4), (26, 0), (30, 0)]
    ]
    drained = judge({"fallback_drained": {"within_s": 10}}, evidence(rows))
    assert drained.passed and drained.observed["drained_after_s"] == 6.0
    assert not judge({"fallback_drained": {"within_s": 5}}, evidence(rows)).passed
    stuck = [*rows[:-2], (T0 + 30, "audit_fallback_pending", "", 3.0)]
    verdict = judge({"fallback_drained": {}}, evidence(stuck))
    assert not verdict.passed and "still has 3 pending" in verdict.detail


def test_counter_increases_and_ranges() -> None:
    rows = [
        (T0, "session_save_retries_total", "", 4.0),
        (T0 + 30, "session_save_retries_total", "", 9.0),
        (T0, "pms_cache_hits_total", "kind=availability", 10.0),
        (T0 + 30, "pms_cache_hits_total", "kind=availability", 40.0),
        (T0, "pms_cache_misses_total", "kind=availability", 5.0),
        (T0 + 30, "pms_cache_misses_total", "kind=availability", 25.0),
    ]
    ev = evidence(rows)
    assert judge({"session_save_retries": {"min": 5, "max": 5}}, ev).passed
    assert not judge({"session_save_retries": {"max": 0}}, ev).passed
    rate = judge({"cache_hit_rate": {"min": 0.7}}, ev)
    assert not rate.passed and "60.0%" in rate.detail
    assert judge({"cache_hit_rate": {"min": 0.5}}, ev).passed
