"""Comparisons: a metric in the windows without the fault against the windows with it.

An experiment's ``compare:`` entries each name a metric (reply latency, error or degraded
ratio, or the rate of an agent counter), the windows (``before_during``: the baseline
before the first fault against the fault window; ``interleaved``: every moment without a
fault against every moment with one, for methods that switch a fault on and off under
the same load) and a tolerance. ``max_increase`` is a claim ("p50 may rise at most
20 ms"): it passes when the whole confidence interval of the rise stays within it.
``min_increase`` proves the fault ("the fault adds at least 200 ms"): it passes when the
whole interval lies beyond it. Too few samples is NODATA (inconclusive), saying how many
are needed; never a pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chaos.exceptions import ExperimentError
from chaos.experiment.expectations import Evidence
from chaos.experiment.stats import Shift, classify, hodges_lehmann, proportion_difference
from chaos.journal import Verdict
from chaos.traffic import Sample

METRICS = ("latency", "error_ratio", "degraded_ratio", "rate")
WINDOWS = ("before_during", "interleaved")
# Samples sent within this long after a fault ended still feel it (a breaker half-open,
# a pool reconnecting): interleaved baselines leave them out.
GUARD_S = 1.0
FIELDS = {"metric", "windows", "max_increase", "min_increase", "confidence", "min_samples",
          "label", "channel", "counter", "labels"}  # fmt: skip


@dataclass(frozen=True)
class Comparison:
    spec: dict[str, Any]

    @property
    def proves_fault(self) -> bool:
        return self.spec.get("min_increase") is not None

    def describe(self) -> str:
        what = self.spec["metric"] if self.spec["metric"] != "rate" else self.spec["counter"]
        scope = "".join(f" {self.spec[k]}" for k in ("label", "channel") if k in self.spec)
        bound = (
            f"rises by >= {self.spec['min_increase']:g}"
            if self.proves_fault
            else f"rises by <= {self.spec['max_increase']:g}"
        )
        return f"compare({what}{scope} {bound}, {self.spec['windows']})"


def _fail(where: str, why: str) -> ExperimentError:
    return ExperimentError(f"{where}: {why}")


def ensure_comparison(data: Any, where: str) -> Comparison:
    """A valid ``compare:`` entry, or an error naming the field."""
    if not isinstance(data, dict):
        raise _fail(where, f"must be a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise _fail(
            where, f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(FIELDS))}"
        )
    metric = data.get("metric")
    if metric not in METRICS:
        raise _fail(f"{where}.metric", f"must be one of {', '.join(METRICS)}, got {metric!r}")
    windows = data.get("windows", "before_during")
    if windows not in WINDOWS:
        raise _fail(f"{where}.windows", f"must be one of {', '.join(WINDOWS)}, got {windows!r}")
    bounds = [k for k in ("max_increase", "min_increase") if k in data]
    if len(bounds) != 1:
        raise _fail(
            where,
            "needs exactly one of max_increase (a claim) or min_increase (the fault's effect)",
        )
    for key in ("max_increase", "min_increase", "confidence", "min_samples"):
        value = data.get(key)
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise _fail(f"{where}.{key}", f"must be a number, got {value!r}")
    confidence = float(data.get("confidence", 0.95))
    if not 0.5 <= confidence < 1:
        raise _fail(f"{where}.confidence", f"must be in [0.5, 1), got {confidence:g}")
    if metric == "rate":
        if not isinstance(data.get("counter"), str):
            raise _fail(f"{where}.counter", "is required for a rate (an agent counter's name)")
        if not isinstance(data.get("labels", {}), dict):
            raise _fail(f"{where}.labels", "must be a mapping of label to value")
    elif "counter" in data or "labels" in data:
        raise _fail(where, "counter and labels go with metric: rate")
    spec = {
        "windows": windows,
        "confidence": confidence,
        "min_samples": int(data.get("min_samples", 20)),
        **{k: v for k, v in data.items() if k not in ("windows", "confidence", "min_samples")},
    }
    return Comparison(spec)


def _faults(ev: Evidence) -> list[tuple[float, float]]:
    return ev.fault_spans or [(ev.fault_start, ev.fault_end)]


def in_fault(ev: Evidence, t: float) -> bool:
    return any(a <= t <= b for a, b in _faults(ev))


def _baseline(ev: Evidence, t: float) -> bool:
    """Outside every fault and its guard interval, within the run."""
    return not any(a <= t <= b + GUARD_S for a, b in _faults(ev))


def windows(ev: Evidence, spec: dict[str, Any]) -> tuple[list[Sample], list[Sample]]:
    """The samples of window A (no fault) and window B (fault), by intended send time."""
    scoped = [
        s
        for s in ev.samples
        if not s.error.startswith("not sent")
        and (spec.get("label") is None or s.label == spec["label"])
        and (spec.get("channel") is None or s.channel == spec["channel"])
    ]
    if spec["windows"] == "before_during":
        return (
            [s for s in scoped if s.intended_at < ev.fault_start],
            [s for s in scoped if ev.fault_start <= s.intended_at <= ev.fault_end],
        )
    return (
        [s for s in scoped if _baseline(ev, s.intended_at)],
        [s for s in scoped if in_fault(ev, s.intended_at)],
    )


def _latency(ev: Evidence, spec: dict[str, Any]) -> Shift | str:
    a, b = windows(ev, spec)
    need = spec["min_samples"]
    if len(a) < need or len(b) < need:
        return f"{len(a)} requests without the fault and {len(b)} with it; need {need} in each"
    return hodges_lehmann([s.latency_s for s in a], [s.latency_s for s in b], spec["confidence"])


def _ratio(flag: Callable[[Sample], bool], only: Callable[[Sample], bool]) -> Callable[..., Any]:
    def judge(ev: Evidence, spec: dict[str, Any]) -> Shift | str:
        a, b = (list(filter(only, w)) for w in windows(ev, spec))
        need = spec["min_samples"]
        if len(a) < need or len(b) < need:
            return f"{len(a)} requests without the fault and {len(b)} with it; need {need} in each"
        return proportion_difference(
            sum(map(flag, a)), len(a), sum(map(flag, b)), len(b), spec["confidence"]
        )

    return judge


def _rate(ev: Evidence, spec: dict[str, Any]) -> Shift | str:
    """Counter increase per second with the fault minus without (normal approximation)."""
    labels = {str(k): str(v) for k, v in (spec.get("labels") or {}).items()}
    spans: dict[str, list[tuple[float, float]]] = {"A": [], "B": []}
    if spec["windows"] == "before_during":
        spans["A"] = [(ev.run_start or ev.fault_start, ev.fault_start)]
        spans["B"] = [(ev.fault_start, ev.fault_end)]
    else:
        spans["B"] = _faults(ev)
        edges = [
            ev.run_start or ev.fault_start,
            *[x for a, b in _faults(ev) for x in (a, b + GUARD_S)],
        ]
        spans["A"] = [(edges[i], edges[i + 1]) for i in range(0, len(edges) - 1, 2)]
    counts, seconds = {}, {}
    for side, parts in spans.items():
        total = 0.0
        for start, end in parts:
            grew = ev.timeline.increase(spec["counter"], start, end, **labels)
            if grew is None:
                return f"{spec['counter']} was not read over every window"
            total += grew
        counts[side], seconds[side] = total, sum(b - a for a, b in parts)
    if min(seconds.values()) <= 0:
        return "a window has no duration"
    r_a, r_b = counts["A"] / seconds["A"], counts["B"] / seconds["B"]
    z = float(-_norm_ppf((1 - spec["confidence"]) / 2))
    se = math.sqrt(counts["A"] / seconds["A"] ** 2 + counts["B"] / seconds["B"] ** 2) or 0.0
    delta = r_b - r_a
    return Shift(
        delta, delta - z * se, delta + z * se, float("nan"), int(counts["A"]), int(counts["B"])
    )


def _norm_ppf(q: float) -> float:
    from scipy import stats

    return float(stats.norm.ppf(q))


JUDGES: dict[str, Callable[..., Shift | str]] = {
    "latency": _latency,
    "error_ratio": _ratio(lambda s: s.failed, lambda s: True),
    "degraded_ratio": _ratio(
        lambda s: bool(s.degraded), lambda s: s.acknowledged and s.degraded is not None
    ),
    "rate": _rate,
}


def compare(comparison: Comparison, ev: Evidence) -> Verdict:
    """Judge one comparison into a verdict (passed, failed, or inconclusive on NODATA)."""
    spec = comparison.spec
    shift = JUDGES[spec["metric"]](ev, spec)
    name = comparison.describe()
    if isinstance(shift, str):
        observed = {"class": "NODATA", "need": spec["min_samples"]}
        return Verdict(
            name, "compare", "inconclusive", f"NODATA: {shift}", observed, comparison.proves_fault
        )
    verdict_class = classify(shift, spec.get("max_increase"), spec.get("min_increase"))
    expected = "DEGRADED" if comparison.proves_fault else None
    passed = verdict_class == expected if expected else verdict_class in ("PASS", "IMPROVED")
    unit, scale = ("ms", 1000.0) if spec["metric"] == "latency" else ("points", 100.0)
    if spec["metric"] == "rate":
        unit, scale = "/s", 1.0
    bound = float(spec["min_increase"] if expected else spec["max_increase"])
    detail = (
        f"{verdict_class}: rose {shift.estimate * scale:+.1f} {unit} "
        f"({spec['confidence']:.0%} CI {shift.low * scale:+.1f} to {shift.high * scale:+.1f}), "
        f"{'must rise at least' if expected else 'tolerance'} {bound * scale:g} {unit}; "
        f"n={shift.n_a}/{shift.n_b}"
        + ("" if math.isnan(shift.p_value) else f", p={shift.p_value:.3g}")
    )
    observed = {
        "class": verdict_class,
        "estimate": shift.estimate,
        "low": shift.low,
        "high": shift.high,
        "p_value": None if math.isnan(shift.p_value) else shift.p_value,
        "n_a": shift.n_a,
        "n_b": shift.n_b,
    }
    return Verdict(
        name, "compare", "passed" if passed else "failed", detail, observed, comparison.proves_fault
    )
