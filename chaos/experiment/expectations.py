"""Expectations: verdicts computed from a run's evidence, each with its reason.

Every evaluator returns ``(passed, detail, observed)``. Counters are judged by their
increase over the run; phases come from the fault marks (before / during / after).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from chaos.experiment.model import Expectation
from chaos.observe import series, transitions
from chaos.traffic import Sample


@dataclass
class Evidence:
    """What a run observed: the metric timeline, the guest traffic and the audit count."""

    timeline: pd.DataFrame
    samples: list[Sample]
    fault_start: float
    fault_end: float
    audit_rows: int | None = None
    audit_distinct: int | None = None

    def increase(self, metric: str, **labels: str) -> float:
        s = series(self.timeline, metric, **labels)
        return float(s.iloc[-1] - s.iloc[0]) if len(s) > 1 else 0.0

    def phase(self, name: str) -> list[Sample]:
        if name == "before":
            return [s for s in self.samples if s.at < self.fault_start]
        if name == "during":
            return [s for s in self.samples if self.fault_start <= s.at <= self.fault_end]
        return [s for s in self.samples if s.at > self.fault_end]


@dataclass(frozen=True)
class Verdict:
    expectation: str
    kind: str
    passed: bool
    detail: str
    observed: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "expectation": self.expectation,
            "kind": self.kind,
            "passed": self.passed,
            "detail": self.detail,
            "observed": self.observed,
        }


Result = tuple[bool, str, dict[str, Any]]


def _range(value: float, spec: dict[str, Any], what: str) -> Result:
    lo, hi = spec.get("min"), spec.get("max")
    ok = (lo is None or value >= lo) and (hi is None or value <= hi)
    bounds = f"[{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]"
    return ok, f"{what} = {value:g} {'within' if ok else 'outside'} {bounds}", {"value": value}


def breaker_transitions(ev: Evidence, spec: dict[str, Any]) -> Result:
    seen = transitions(ev.timeline, spec["breaker"])
    observed = {
        "transitions": [{**t, "offset_s": round(t["at"] - ev.fault_start, 2)} for t in seen]
    }
    wanted = spec.get("sequence", [])
    if not wanted:
        ok = not seen
        pairs = ", ".join(f"{t['from']}>{t['to']}" for t in seen)
        return (
            ok,
            ("no transitions, as expected" if ok else f"unexpected transitions: {pairs}"),
            observed,
        )
    i = 0
    for step in wanted:
        while i < len(seen) and (seen[i]["from"], seen[i]["to"]) != (step["from"], step["to"]):
            i += 1
        if i == len(seen):
            got = " -> ".join(f"{t['from']}>{t['to']}" for t in seen) or "none"
            return (
                False,
                (
                    f"{spec['breaker']} breaker never went {step['from']}>{step['to']} "
                    f"in order (observed: {got})"
                ),
                observed,
            )
        if "within_s" in step:
            anchor = ev.fault_start if step["after"] == "fault_start" else ev.fault_end
            took = seen[i]["at"] - anchor
            if took > step["within_s"]:
                return (
                    False,
                    (
                        f"{step['from']}>{step['to']} came {took:.1f} s after "
                        f"{step['after']}, limit {step['within_s']} s"
                    ),
                    observed,
                )
        i += 1
    return (
        True,
        f"{spec['breaker']} breaker went " + " -> ".join(f"{s['from']}>{s['to']}" for s in wanted),
        observed,
    )


def retries(ev: Evidence, spec: dict[str, Any]) -> Result:
    labels = {"operation": spec["operation"]}
    if "outcome" in spec:
        labels["outcome"] = spec["outcome"]
    value = ev.increase("retry_attempts_total", **labels)
    what = f"retries of {spec['operation']}" + (
        f" ({spec['outcome']})" if "outcome" in spec else ""
    )
    return _range(value, spec, what)


def session_save_retries(ev: Evidence, spec: dict[str, Any]) -> Result:
    return _range(ev.increase("session_save_retries_total"), spec, "session save retries")


def fallback_writes(ev: Evidence, spec: dict[str, Any]) -> Result:
    spec = {"min": 1, **spec}
    return _range(ev.increase("audit_fallback_writes_total"), spec, "audit fallback writes")


def fallback_drained(ev: Evidence, spec: dict[str, Any]) -> Result:
    s = series(ev.timeline, "audit_fallback_pending")
    after = s[s.index > ev.fault_end]
    peak = float(s.max()) if len(s) else 0.0
    if after.empty or after.iloc[-1] != 0:
        left = float(after.iloc[-1]) if len(after) else float("nan")
        return (
            False,
            f"fallback still has {left:g} pending events at the end (peak {peak:g})",
            {"peak": peak},
        )
    nonzero = after[after != 0]
    drained_at = (
        float(after.index[0])
        if nonzero.empty
        else float(after[after.index > nonzero.index[-1]].index[0])
    )
    took = max(0.0, drained_at - ev.fault_end)
    within = float(spec.get("within_s", 60))
    ok = took <= within
    return (
        ok,
        f"pending back to 0 {took:.1f} s after the fault (limit {within:g} s, peak {peak:g})",
        {"peak": peak, "drained_after_s": round(took, 2)},
    )


def no_lost_audit_events(ev: Evidence, spec: dict[str, Any]) -> Result:
    accepted = sum(1 for s in ev.samples if 200 <= s.status < 300)
    observed = {"accepted": accepted, "audit_rows": ev.audit_rows, "distinct": ev.audit_distinct}
    if ev.audit_rows is None:
        return False, "could not count audit rows in PostgreSQL", observed
    if accepted == 0:
        return False, "no guest message was accepted, so nothing proves the audit trail", observed
    if ev.audit_rows != accepted:
        return False, f"{accepted} messages accepted but {ev.audit_rows} audit rows", observed
    if ev.audit_distinct != ev.audit_rows:
        return False, f"{ev.audit_rows - (ev.audit_distinct or 0)} duplicated audit rows", observed
    return (
        True,
        f"{accepted} messages accepted = {ev.audit_rows} audit rows, no duplicates",
        observed,
    )


def no_5xx(ev: Evidence, spec: dict[str, Any]) -> Result:
    bad = [s for s in ev.samples if s.status >= 500 or s.status == 0]
    observed = {"requests": len(ev.samples), "errors": len(bad)}
    if not ev.samples:
        return False, "no guest traffic was observed", observed
    return (
        not bad,
        f"{len(bad)} of {len(ev.samples)} guest requests failed (5xx or no answer)",
        observed,
    )


def p95_latency(ev: Evidence, spec: dict[str, Any]) -> Result:
    phase = spec.get("phase", "during")
    latencies = [s.latency_s for s in ev.phase(phase)]
    if not latencies:
        return False, f"no requests in phase {phase}", {}
    p95 = float(np.percentile(latencies, 95))
    ok = p95 <= float(spec["max_s"])
    return (
        ok,
        f"p95 {phase} = {p95:.3f} s (limit {spec['max_s']} s, n={len(latencies)})",
        {"p95_s": round(p95, 4), "n": len(latencies)},
    )


def cache_hit_rate(ev: Evidence, spec: dict[str, Any]) -> Result:
    hits = ev.increase("pms_cache_hits_total")
    misses = ev.increase("pms_cache_misses_total")
    total = hits + misses
    if total == 0:
        return False, "no PMS cache lookups happened", {"hits": hits, "misses": misses}
    rate = hits / total
    ok = rate >= float(spec.get("min", 0.7))
    return (
        ok,
        f"cache hit rate {rate:.1%} (min {float(spec.get('min', 0.7)):.0%}, {total:g} lookups)",
        {"rate": round(rate, 4), "hits": hits, "misses": misses},
    )


def stale_served(ev: Evidence, spec: dict[str, Any]) -> Result:
    spec = {"min": 1, **spec}
    return _range(ev.increase("pms_cache_stale_served_total"), spec, "stale PMS answers served")


def degraded_replies(ev: Evidence, spec: dict[str, Any]) -> Result:
    phase = spec.get("phase", "during")
    count = sum(1 for s in ev.phase(phase) if s.degraded)
    return _range(float(count), spec, f"degraded replies {phase}")


EVALUATORS: dict[str, Callable[[Evidence, dict[str, Any]], Result]] = {
    "breaker_transitions": breaker_transitions,
    "retries": retries,
    "session_save_retries": session_save_retries,
    "fallback_writes": fallback_writes,
    "fallback_drained": fallback_drained,
    "no_lost_audit_events": no_lost_audit_events,
    "no_5xx": no_5xx,
    "p95_latency": p95_latency,
    "cache_hit_rate": cache_hit_rate,
    "stale_served": stale_served,
    "degraded_replies": degraded_replies,
}


def evaluate(expectation: Expectation, evidence: Evidence) -> Verdict:
    """Judge one expectation against the evidence."""
    ok, detail, observed = EVALUATORS[expectation.kind](evidence, expectation.spec)
    return Verdict(expectation.describe(), expectation.kind, ok, detail, observed)
