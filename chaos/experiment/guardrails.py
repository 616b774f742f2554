"""Guardrails: conditions that stop a run early, checked four times a second.

An experiment's ``abort_when:`` entries each watch a sliding window: the guests' error
ratio, a latency quantile (requests still waiting count with their age, so a stall shows
at once), an agent counter's increase or gauge, or a PromQL query. When one is above its
bound the run stops: every fault is removed, the proxy is verified clean, and the journal
says ABORTED with the condition, the value that breached it and when.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from chaos.exceptions import ExperimentError, MetricsError
from chaos.metrics import Timeline, prometheus_query, quantile
from chaos.traffic import Sample

CHECK_EVERY_S = 0.25
FIELDS = {"metric", "above", "window_s", "quantile", "name", "labels", "query", "min_samples"}
GUARD_METRICS = ("error_ratio", "latency", "counter", "gauge", "promql")


@dataclass(frozen=True)
class Guardrail:
    spec: dict[str, Any]

    def describe(self) -> str:
        s = self.spec
        what = {
            "error_ratio": "error ratio",
            "latency": f"p{round(s.get('quantile', 0.95) * 100)} latency",
            "counter": f"increase of {s.get('name')}",
            "gauge": str(s.get("name")),
            "promql": f"PromQL {s.get('query')!r}",
        }[s["metric"]]
        return f"{what} over {s['window_s']:g} s above {s['above']:g}"


def ensure_guardrail(data: Any, where: str) -> Guardrail:
    """A valid ``abort_when:`` entry, or an error naming the field."""
    if not isinstance(data, dict):
        raise ExperimentError(f"{where}: must be a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise ExperimentError(f"{where}: unknown field(s) {', '.join(unknown)}")
    metric = data.get("metric")
    if metric not in GUARD_METRICS:
        raise ExperimentError(f"{where}.metric: must be one of {', '.join(GUARD_METRICS)}")
    for key in ("above", "window_s", "quantile", "min_samples"):
        value = data.get(key)
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ExperimentError(f"{where}.{key}: must be a number, got {value!r}")
    if "above" not in data:
        raise ExperimentError(f"{where}.above: is required (the bound that stops the run)")
    if metric in ("counter", "gauge") and not isinstance(data.get("name"), str):
        raise ExperimentError(f"{where}.name: is required (an agent metric)")
    if metric == "promql" and not isinstance(data.get("query"), str):
        raise ExperimentError(f"{where}.query: is required (a PromQL expression)")
    window = float(data.get("window_s", 5.0))
    if window <= 0:
        raise ExperimentError(f"{where}.window_s: must be above 0")
    return Guardrail({"window_s": window, "min_samples": 5, "quantile": 0.95, **data})


@dataclass(frozen=True)
class Breach:
    guardrail: str
    value: float
    at: float
    detail: str


def _recent(samples: Sequence[Sample], since: float) -> list[Sample]:
    return [s for s in samples if s.intended_at >= since]


def reading(
    g: Guardrail,
    now: float,
    samples: Sequence[Sample],
    waiting: Sequence[float],
    timeline: Timeline,
    prometheus_url: str | None,
) -> float | None:
    """The watched value now (None while there is not enough to judge)."""
    s, since = g.spec, now - g.spec["window_s"]
    if s["metric"] == "error_ratio":
        recent = _recent(samples, since)
        if len(recent) < s["min_samples"]:
            return None
        return sum(1 for x in recent if x.failed) / len(recent)
    if s["metric"] == "latency":
        ages = [x.latency_s for x in _recent(samples, since)] + [
            now - t for t in waiting if t >= since - 60
        ]
        if len(ages) < s["min_samples"]:
            return None
        return quantile(ages, s["quantile"])
    labels = {str(k): str(v) for k, v in (s.get("labels") or {}).items()}
    if s["metric"] == "counter":
        return timeline.increase(s["name"], since, None, **labels)
    if s["metric"] == "gauge":
        points = timeline.gauge(s["name"], **labels)
        return points[-1][1] if points and points[-1][0] >= since else None
    if prometheus_url is None:
        return None
    try:
        result = prometheus_query(prometheus_url, s["query"], timeout_s=1.0)
    except MetricsError:
        return None
    return max((float(item["value"][1]) for item in result), default=None)


class Guard(threading.Thread):
    """Checks every guardrail four times a second until ``done``; on a breach it records
    it and sets ``stop``, which ends the fault schedule (its restore removes the faults)."""

    def __init__(
        self,
        guardrails: Sequence[Guardrail],
        samples: Callable[[], Sequence[Sample]],
        waiting: Callable[[], Sequence[float]],
        timeline: Timeline,
        prometheus_url: str | None,
        stop: threading.Event,
    ) -> None:
        super().__init__(name="guardrails", daemon=True)
        self.guardrails = list(guardrails)
        self.samples, self.waiting, self.timeline = samples, waiting, timeline
        self.prometheus_url = prometheus_url
        self.stop = stop
        self.done = threading.Event()
        self.breach: Breach | None = None

    def check(self, now: float) -> Breach | None:
        samples, waiting = list(self.samples()), list(self.waiting())
        for g in self.guardrails:
            value = reading(g, now, samples, waiting, self.timeline, self.prometheus_url)
            if value is not None and value > g.spec["above"]:
                return Breach(g.describe(), value, now, f"{g.describe()}: {value:.4g}")
        return None

    def run(self) -> None:
        while not self.done.is_set() and self.breach is None:
            breach = self.check(time.time())
            if breach is not None:
                self.breach = breach
                self.stop.set()
                return
            self.done.wait(CHECK_EVERY_S)
