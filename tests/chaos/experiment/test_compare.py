"""Statistical comparisons on synthetic samples with known shifts: intervals that cover the
truth, tolerances that decide, ties, tiny samples, and interleaved windows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from chaos.exceptions import ExperimentError
from chaos.experiment.compare import compare, ensure_comparison, windows
from chaos.experiment.expectations import Evidence
from chaos.experiment.stats import classify, hodges_lehmann, proportion_difference
from chaos.metrics import Timeline
from chaos.traffic import Sample

T0 = 1000.0


def test_hodges_lehmann_is_the_median_pairwise_difference() -> None:
    shift = hodges_lehmann([1, 2, 3], [4, 5, 6])
    assert (shift.estimate, shift.n_a, shift.n_b) == (3.0, 3, 3)


def test_the_interval_covers_a_known_shift_and_excludes_zero() -> None:
    rng = np.random.default_rng(7)
    covered = 0
    for _ in range(40):
        a = rng.lognormal(np.log(0.02), 0.4, 300)
        b = rng.lognormal(np.log(0.02), 0.4, 300) + 0.01  # +10 ms
        shift = hodges_lehmann(a, b)
        covered += shift.low <= 0.01 <= shift.high
        assert shift.low > 0 and shift.p_value < 0.01
    assert covered >= 36  # a 95 % interval: about 38 of 40


def test_ties_are_equal_differences() -> None:
    shift = hodges_lehmann([0.1] * 30, [0.1] * 30)
    assert (shift.estimate, shift.low, shift.high) == (0.0, 0.0, 0.0)
    assert shift.p_value == pytest.approx(1.0)


def test_the_proportion_interval_is_newcombes() -> None:
    # Newcombe (1998), example (c): 56/70 against 48/80, method 10: 0.0524 to 0.3339.
    shift = proportion_difference(48, 80, 56, 70)
    assert (round(shift.low, 4), round(shift.estimate, 4), round(shift.high, 4)) == (
        0.0524,
        0.2,
        0.3339,
    )
    assert 0.01 < shift.p_value < 0.02  # Fisher's exact test


@pytest.mark.parametrize(
    ("low", "high", "max_increase", "min_increase", "expected"),
    [
        (0.001, 0.015, 0.02, None, "PASS"),  # within the tolerated rise
        (0.010, 0.030, 0.02, None, "DEGRADED"),  # the interval reaches beyond it
        (-0.020, -0.005, 0.02, None, "IMPROVED"),
        (0.250, 0.350, None, 0.2, "DEGRADED"),  # the fault's effect, shown
        (0.150, 0.350, None, 0.2, "PASS"),  # not shown to reach the expected effect
    ],
)
def test_classification_against_the_tolerance(
    low: float, high: float, max_increase: float | None, min_increase: float | None, expected: str
) -> None:
    from chaos.experiment.stats import Shift

    assert classify(Shift(0.0, low, high, 0.5, 50, 50), max_increase, min_increase) == expected


def samples(latency: dict[str, float], n: int = 60, rate: float = 10.0, seed: int = 3,
            degraded_during: float = 0.0) -> list[Sample]:  # fmt: skip
    """``n`` requests before the fault (T0..T0+n/rate) and ``n`` during it."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(2 * n):
        t = T0 + i / rate
        phase = "before" if i < n else "during"
        lat = float(rng.lognormal(np.log(0.02), 0.3)) + latency[phase]
        degraded = phase == "during" and rng.random() < degraded_during
        out.append(Sample(t, t, t + lat, 200, "api", f"m{i}", label="availability",
                          degraded=degraded))  # fmt: skip
    return out


def evidence(
    items: list[Sample], n: int = 60, spans: list[tuple[float, float]] | None = None
) -> Evidence:
    start = T0 + n / 10.0
    end = T0 + 2 * n / 10.0
    return Evidence(
        Timeline(), items, start, end, run_start=T0, run_end=end, fault_spans=spans or []
    )


def judge(spec: dict[str, Any], ev: Evidence) -> Any:
    return compare(ensure_comparison(spec, "c"), ev)


def test_a_claim_passes_within_its_tolerance_and_fails_beyond_it() -> None:
    calm = evidence(samples({"before": 0.0, "during": 0.002}))
    verdict = judge({"metric": "latency", "max_increase": 0.02}, calm)
    assert verdict.status == "passed" and verdict.observed["class"] == "PASS"
    assert verdict.observed["low"] <= 0.002 <= verdict.observed["high"]
    slow = evidence(samples({"before": 0.0, "during": 0.05}))
    verdict = judge({"metric": "latency", "max_increase": 0.02}, slow)
    assert verdict.status == "failed" and verdict.detail.startswith("DEGRADED: rose +5")


def test_the_fault_must_show_to_prove_itself() -> None:
    spec = {"metric": "latency", "min_increase": 0.03}
    shown = judge(spec, evidence(samples({"before": 0.0, "during": 0.05})))
    assert shown.status == "passed" and shown.proves_fault
    absent = judge(spec, evidence(samples({"before": 0.0, "during": 0.0})))
    assert absent.status == "failed" and "must rise at least 30 ms" in absent.detail


def test_too_few_samples_is_nodata_and_says_how_many() -> None:
    verdict = judge({"metric": "latency", "max_increase": 0.02},
                    evidence(samples({"before": 0.0, "during": 0.0}, n=8), n=8))  # fmt: skip
    assert verdict.status == "inconclusive"
    assert verdict.detail == "NODATA: 8 requests without the fault and 8 with it; need 20 in each"


def test_ratios_compare_proportions() -> None:
    items = samples({"before": 0.0, "during": 0.0}, n=200, degraded_during=0.3)
    verdict = judge({"metric": "degraded_ratio", "min_increase": 0.1}, evidence(items, n=200))
    assert verdict.status == "passed", verdict.detail
    assert 0.2 < verdict.observed["estimate"] < 0.4
    quiet = judge({"metric": "error_ratio", "max_increase": 0.05}, evidence(items, n=200))
    assert quiet.status == "passed"  # no request failed in either window


def test_interleaved_windows_split_by_fault_with_a_guard_after_each() -> None:
    items = samples({"before": 0.0, "during": 0.0}, n=60)
    spans = [(T0 + 2.0, T0 + 3.0), (T0 + 6.0, T0 + 7.0)]
    ev = evidence(items, spans=spans)
    spec = ensure_comparison(
        {"metric": "latency", "max_increase": 1, "windows": "interleaved"}, "c"
    ).spec
    a, b = windows(ev, spec)
    assert all(any(x <= s.intended_at <= y for x, y in spans) for s in b) and len(b) == 22
    # A leaves out the second after each fault (its tail) and everything inside one.
    assert not any(x <= s.intended_at <= y + 1.0 for s in a for x, y in spans)
    assert len(a) == 120 - 22 - 20  # 11 samples in each fault, 10 in each guard second


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"metric": "latency"}, "needs exactly one of max_increase"),
        ({"metric": "latency", "max_increase": 1, "min_increase": 1}, "needs exactly one"),
        ({"metric": "speed", "max_increase": 1}, "metric: must be one of"),
        ({"metric": "latency", "max_increase": 1, "windows": "abab"}, "windows: must be one of"),
        ({"metric": "latency", "max_increase": 1, "confidence": 1.2}, "confidence: must be in"),
        ({"metric": "rate", "max_increase": 1}, "counter: is required"),
        ({"metric": "latency", "max_increase": 1, "counter": "x"}, "counter and labels go with"),
        ({"metric": "latency", "max_increase": "a lot"}, "max_increase: must be a number"),
        ({"metric": "latency", "max_increase": 1, "tolerance": 2}, "unknown field(s) tolerance"),
    ],
)
def test_bad_entries_name_the_field(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ExperimentError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ensure_comparison(entry, "compare[0]")
