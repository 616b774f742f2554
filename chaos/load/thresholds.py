"""Pass/fail thresholds for a load run, declared per scenario as in k6.

A scenario declares a flat mapping ``{"p95_ms": 800, "error_ratio": 0.01, ...}``. A key
may be scoped to one request name, k6 style: ``"p95_ms{POST /api/v1/messages [booking:confirm]}"``.
Unscoped keys judge the ``Aggregated`` row. ``min_cache_hit_ratio`` judges the agent's PMS
cache (hits / lookups during the run, read from its ``/metrics``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from chaos.load.errors import ThresholdError

AGGREGATED = "Aggregated"
CACHE_TARGET = "agent /metrics"

# metric -> (bound, label, unit, decimals): "max" limits are ceilings, "min" limits floors.
METRICS: dict[str, tuple[str, str, str, int]] = {
    "p50_ms": ("max", "p50", " ms", 0),
    "p95_ms": ("max", "p95", " ms", 0),
    "p99_ms": ("max", "p99", " ms", 0),
    "avg_ms": ("max", "average", " ms", 0),
    "max_ms": ("max", "max", " ms", 0),
    "error_ratio": ("max", "error ratio", "", 4),
    "min_rps": ("min", "throughput", " req/s", 2),
    "min_requests": ("min", "requests", "", 0),
    "min_cache_hit_ratio": ("min", "PMS cache hit ratio", "", 3),
}
_KEY = re.compile(r"^(?P<metric>[a-z0-9_]+)(?:\{(?P<target>[^{}]+)\})?$")


@dataclass(frozen=True)
class Threshold:
    metric: str
    limit: float
    target: str = AGGREGATED

    @property
    def key(self) -> str:
        return self.metric if self.target == AGGREGATED else f"{self.metric}{{{self.target}}}"


@dataclass(frozen=True)
class Figures:
    """What a run measured for one request name (or the aggregate)."""

    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    avg_ms: float
    max_ms: float
    rps: float

    @property
    def error_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class Verdict:
    threshold: Threshold
    actual: float | None
    passed: bool

    def message(self) -> str:
        """``threshold failed: p95 1234 ms > 800 ms (Aggregated)``."""
        bound, label, unit, decimals = METRICS[self.threshold.metric]
        limit = _fmt(self.threshold.limit, decimals)
        outcome = "ok" if self.passed else "failed"
        if self.actual is None:
            return f"threshold {outcome}: {label} not measured (no data) ({self.threshold.target})"
        op = ("<=" if self.passed else ">") if bound == "max" else (">=" if self.passed else "<")
        actual = _fmt(self.actual, decimals)
        return (
            f"threshold {outcome}: {label} {actual}{unit} {op} {limit}{unit} "
            f"({self.threshold.target})"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.threshold.key,
            "metric": self.threshold.metric,
            "target": self.threshold.target,
            "limit": self.threshold.limit,
            "actual": self.actual,
            "passed": self.passed,
            "message": self.message(),
        }


def _fmt(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}" if decimals else f"{value:.0f}"


def parse_thresholds(spec: Mapping[str, float]) -> list[Threshold]:
    """Threshold objects from a scenario's declaration; rejects unknown metrics."""
    out = []
    for key, limit in spec.items():
        m = _KEY.match(key.strip())
        if not m or m["metric"] not in METRICS:
            raise ThresholdError(f"unknown threshold {key!r}; known: {', '.join(METRICS)}")
        if m["metric"] == "min_cache_hit_ratio" and m["target"]:
            raise ThresholdError("min_cache_hit_ratio applies to the whole run, not a request name")
        if (
            not isinstance(limit, int | float)
            or isinstance(limit, bool)
            or not math.isfinite(limit)
        ):
            raise ThresholdError(f"threshold {key!r} needs a number, got {limit!r}")
        target = CACHE_TARGET if m["metric"] == "min_cache_hit_ratio" else m["target"] or AGGREGATED
        out.append(Threshold(m["metric"], float(limit), target.strip()))
    return out


def parse_override(text: str) -> dict[str, float]:
    """``"p95_ms=800, error_ratio=0.01"`` -> a mapping that overrides declared thresholds."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in re.split(r",(?![^{]*\})", text or ""))):
        key, sep, value = part.partition("=")
        if not sep:
            raise ThresholdError(f"threshold override {part!r} is not KEY=NUMBER")
        try:
            out[key.strip()] = float(value)
        except ValueError as exc:
            raise ThresholdError(f"threshold override {part!r} is not KEY=NUMBER") from exc
    parse_thresholds(out)  # validate keys now, with the user's spelling in the message
    return out


def evaluate(
    thresholds: list[Threshold], figures: Mapping[str, Figures], cache_hit_ratio: float | None
) -> list[Verdict]:
    """Judge every threshold; a figure that was never measured fails its threshold."""
    verdicts = []
    for t in thresholds:
        actual: float | None
        if t.metric == "min_cache_hit_ratio":
            actual = cache_hit_ratio
        else:
            fig = figures.get(t.target)
            if fig is None or fig.requests == 0:
                actual = 0.0 if t.metric in ("min_requests", "min_rps") else None
            elif t.metric == "min_rps":
                actual = fig.rps
            elif t.metric == "min_requests":
                actual = float(fig.requests)
            else:
                actual = float(getattr(fig, t.metric))
        bound = METRICS[t.metric][0]
        passed = actual is not None and (actual <= t.limit if bound == "max" else actual >= t.limit)
        verdicts.append(Verdict(t, actual, passed))
    return verdicts
