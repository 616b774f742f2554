"""Expectations: what a run must show, each kind validated when its file is loaded.

Every kind declares its fields, which bounds it needs, how it is judged, and whether an
instance proves that its fault had an effect (``proves_fault``): an experiment must hold
at least one such expectation, so that a fault the proxy silently did not apply fails
the run. A verdict is ``passed``, ``failed`` or ``inconclusive``: missing or unreadable
data (no readings over the window, too few requests, an audit log that could not be
queried) is inconclusive, never a pass.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chaos.exceptions import ExperimentError
from chaos.journal import Journal, Verdict
from chaos.metrics import WATCHED, Timeline, Transition, quantile
from chaos.traffic import Sample

PHASES = ("before", "during", "after")
WINDOWS = (*PHASES, "run")
STATES = ("closed", "open", "half-open")
BREAKERS = ("pms", "audit", "nlp", "stt")
# How a PMS call ended (``pms_api_latency_seconds``'s ``outcome`` label); ``error`` is
# any of the failures, whichever way the network made it fail.
PMS_FAILURES = ("timeout", "connect_error", "transport_error", "server_error")
PMS_OUTCOMES = ("success", "rejected", *PMS_FAILURES, "error")
DEFAULT_MIN_SAMPLES = 10

Outcome = tuple[str, str, dict[str, Any]]
PASSED, FAILED, INCONCLUSIVE = "passed", "failed", "inconclusive"


@dataclass(frozen=True)
class Expectation:
    kind: str
    spec: dict[str, Any]

    def describe(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.spec.items() if k != "sequence")
        if "sequence" in self.spec:
            seq = " -> ".join(f"{s['from']}>{s['to']}" for s in self.spec["sequence"])
            args = f"{args}, sequence={seq}" if args else f"sequence={seq}"
        return f"{self.kind}({args})"

    @property
    def proves_fault(self) -> bool:
        return KINDS[self.kind].proves(self.spec)


@dataclass(frozen=True)
class AuditCheck:
    """The audit log reconciled with the acknowledged message ids (None: not queried)."""

    acknowledged: int
    present: int
    lost: list[str]
    duplicated: dict[str, int]
    error: str = ""


@dataclass(frozen=True)
class ReplyCheck:
    """The Graph recorder's replies reconciled with the acknowledged WhatsApp messages.

    ``short`` and ``extra`` map a guest to how many replies they lacked or got beyond one
    per distinct message id; ``please_type`` counts replies asking the guest to type.
    """

    messages: int
    guests: int
    replies: int
    short: dict[str, int]
    extra: dict[str, int]
    please_type: int = 0
    deliveries: int = 0
    error: str = ""


@dataclass
class Evidence:
    """What a run observed: metric readings, guest requests, the fault window, the audit."""

    timeline: Timeline
    samples: list[Sample]
    fault_start: float
    fault_end: float
    audit: AuditCheck | None = None
    run_start: float | None = None
    run_end: float | None = None
    fault_spans: list[tuple[float, float]] = field(default_factory=list)  # each fault
    recovered_at: float | None = None  # when the last process fault's service was back
    replies: ReplyCheck | None = None  # WhatsApp replies reconciled (None: not read)

    @classmethod
    def of(cls, journal: Journal) -> Evidence:
        """What a finished run's verdicts were judged on, read back from its journal."""
        window = journal.fault_window or (journal.started_at, journal.started_at)
        audit = journal.audit
        replies = journal.replies
        return cls(
            timeline=journal.timeline,
            samples=journal.samples,
            fault_start=window[0],
            fault_end=window[1],
            audit=AuditCheck(**audit) if audit else None,
            replies=ReplyCheck(**replies) if replies else None,
            run_start=journal.started_at,
            run_end=journal.ended_at,
            fault_spans=[
                (f.started_at, f.ended_at or f.started_at)
                for f in journal.faults
                if f.started_at is not None
            ],
            recovered_at=max(
                (f.recovered_at for f in journal.faults if f.recovered_at), default=None
            ),
        )

    def window(self, phase: str) -> tuple[float | None, float | None]:
        return {
            "before": (self.run_start, self.fault_start),
            "during": (self.fault_start, self.fault_end),
            "after": (self.fault_end, self.run_end),
            "run": (None, None),
        }[phase]

    def phase(self, name: str) -> list[Sample]:
        """Guest requests by the time they were meant to be sent."""
        if name == "run":
            return list(self.samples)
        if name == "before":
            return [s for s in self.samples if s.intended_at < self.fault_start]
        if name == "during":
            return [s for s in self.samples if self.fault_start <= s.intended_at <= self.fault_end]
        return [s for s in self.samples if s.intended_at > self.fault_end]

    def increase(self, metric: str, phase: str = "run", **labels: str) -> float | None:
        return self.timeline.increase(metric, *self.window(phase), **labels)


# -- field validation ----------------------------------------------------------------------


def _fail(where: str, why: str) -> ExperimentError:
    return ExperimentError(f"{where}: {why}")


def _number(value: Any, where: str, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(where, f"must be a number, got {value!r}")
    if value < minimum:
        raise _fail(where, f"must be >= {minimum:g}, got {value!r}")
    return float(value)


def _choice(options: tuple[str, ...]) -> Callable[[Any, str], Any]:
    def check(value: Any, where: str) -> Any:
        if value not in options:
            raise _fail(where, f"must be one of {', '.join(options)}, got {value!r}")
        return value

    return check


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, f"must be a non-empty string, got {value!r}")
    return value


def _quantile(value: Any, where: str) -> float:
    q = _number(value, where)
    if not 0.5 <= q <= 0.99:
        raise _fail(where, f"must be between 0.5 and 0.99, got {q:g}")
    return q


def _count(value: Any, where: str) -> float:
    return _number(value, where)


def _positive(value: Any, where: str) -> float:
    return _number(value, where, minimum=0.001)


def _sequence(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise _fail(where, "must be a non-empty list of {from, to} steps")
    steps = []
    for i, raw in enumerate(value):
        here = f"{where}[{i}]"
        if not isinstance(raw, dict):
            raise _fail(here, f"must be a mapping, got {type(raw).__name__}")
        unknown = sorted(set(raw) - {"from", "to", "after", "min_s", "within_s"})
        if unknown:
            raise _fail(here, f"unknown field(s) {', '.join(unknown)}")
        if raw.get("from") not in STATES or raw.get("to") not in STATES:
            raise _fail(here, f"from and to must be states among {', '.join(STATES)}")
        step = {"from": raw["from"], "to": raw["to"]}
        for bound in ("min_s", "within_s"):
            if bound in raw:
                step[bound] = _number(raw[bound], f"{here}.{bound}")
                if raw.get("after") not in ("fault_start", "fault_end"):
                    raise _fail(f"{here}.after", f"{bound} needs after: fault_start or fault_end")
        if "after" in raw:
            step["after"] = _choice(("fault_start", "fault_end"))(raw["after"], f"{here}.after")
        if step.get("min_s", 0.0) > step.get("within_s", math.inf):
            raise _fail(here, "min_s is above within_s")
        steps.append(step)
    return steps


def _metric(value: Any, where: str) -> str:
    counters = sorted(m for m in WATCHED if m.endswith(("_total", "_count")))
    if value not in counters:
        # The sampler keeps only the watched families: another name could never be judged.
        raise _fail(where, f"must be a counter the sampler reads ({', '.join(counters)}), "
                    f"got {value!r}")  # fmt: skip
    return str(value)


def _labels(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise _fail(where, f"must be a mapping of label names to values, got {value!r}")
    return dict(value)


Check = Callable[[Any, str], Any]


@dataclass(frozen=True)
class Kind:
    """One expectation kind: its fields, the bounds it needs, its judge."""

    judge: Callable[[Evidence, dict[str, Any]], Outcome]
    required: dict[str, Check] = field(default_factory=dict)
    optional: dict[str, Check] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    one_of: tuple[str, ...] = ()  # at least one of these bounds
    proves: Callable[[dict[str, Any]], bool] = lambda spec: False


def ensure_expectation(data: Any, where: str) -> Expectation:
    """A valid expectation, or an error naming the field; nothing is filled in silently."""
    if not isinstance(data, dict) or len(data) != 1:
        raise _fail(where, f"must be a mapping with exactly one kind among {', '.join(KINDS)}")
    name, spec = next(iter(data.items()))
    if name not in KINDS:
        raise _fail(where, f"unknown expectation {name!r}; known: {', '.join(KINDS)}")
    kind = KINDS[name]
    here = f"{where}.{name}"
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise _fail(here, f"must be a mapping, got {type(spec).__name__}")
    allowed = {**kind.required, **kind.optional}
    unknown = sorted(set(spec) - set(allowed))
    if unknown:
        known = ", ".join(sorted(allowed)) or "none"
        raise _fail(here, f"unknown field(s) {', '.join(unknown)}; allowed: {known}")
    missing = [k for k in kind.required if k not in spec]
    if missing:
        raise _fail(f"{here}.{missing[0]}", "is required")
    if kind.one_of and not any(k in spec for k in kind.one_of):
        raise _fail(here, f"needs a bound: {' or '.join(kind.one_of)}")
    clean = {k: allowed[k](v, f"{here}.{k}") for k, v in spec.items()}
    if "min" in clean and "max" in clean and clean["min"] > clean["max"]:
        raise _fail(here, "min is above max")
    return Expectation(name, {**kind.defaults, **clean})


# -- judges --------------------------------------------------------------------------------


def _range(value: float | None, spec: dict[str, Any], what: str, missing: str) -> Outcome:
    if value is None:
        return INCONCLUSIVE, f"{what}: {missing}", {"value": None}
    lo, hi = spec.get("min"), spec.get("max")
    ok = (lo is None or value >= lo) and (hi is None or value <= hi)
    bounds = f"[{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]"
    return (
        PASSED if ok else FAILED,
        f"{what} = {value:g} {'within' if ok else 'outside'} {bounds}",
        {"value": value},
    )


def _no_readings(ev: Evidence, metric: str) -> str:
    if metric not in ev.timeline.declared:
        return f"the agent never exported {metric} (no readings, or an older agent)"
    return "the metric readings do not cover the window"


def _counter(metric: str, what: str, labels: tuple[str, ...] = ()) -> Callable[..., Outcome]:
    def judge(ev: Evidence, spec: dict[str, Any]) -> Outcome:
        chosen = {k: str(spec[k]) for k in labels if k in spec}
        phase = spec["phase"]
        value = ev.increase(metric, phase, **chosen)
        scope = "".join(f" {v}" for v in chosen.values())
        return _range(value, spec, f"{what}{scope} ({phase})", _no_readings(ev, metric))

    return judge


def pms_calls(ev: Evidence, spec: dict[str, Any]) -> Outcome:
    metric, phase = "pms_api_latency_seconds_count", spec["phase"]
    outcomes = PMS_FAILURES if spec["outcome"] == "error" else (spec["outcome"],)
    scope = {"operation": spec["operation"]} if "operation" in spec else {}
    counts = [ev.increase(metric, phase, outcome=o, **scope) for o in outcomes]
    value = None if any(c is None for c in counts) else sum(c or 0.0 for c in counts)
    what = f"PMS calls {spec.get('operation', '')} ending {spec['outcome']} ({phase})"
    return _range(value, spec, what.replace("  ", " "), _no_readings(ev, metric))


def pms_latency_shift(ev: Evidence, spec: dict[str, Any]) -> Outcome:
    """The mean PMS call time during the fault minus before it, as the agent measured it."""
    scope = {"operation": spec["operation"]} if "operation" in spec else {}
    means = []
    for phase in ("before", "during"):
        total = ev.increase("pms_api_latency_seconds_sum", phase, **scope)
        calls = ev.increase("pms_api_latency_seconds_count", phase, **scope)
        if total is None or calls is None:
            return INCONCLUSIVE, _no_readings(ev, "pms_api_latency_seconds_count"), {}
        if calls < spec["min_calls"]:
            return (
                INCONCLUSIVE,
                f"{calls:g} PMS calls {phase} the fault, need {spec['min_calls']:g}",
                {f"calls_{phase}": calls},
            )
        means.append(total / calls)
    shift = means[1] - means[0]
    lo, hi = spec.get("min"), spec.get("max")
    ok = (lo is None or shift >= lo) and (hi is None or shift <= hi)
    return (
        PASSED if ok else FAILED,
        f"mean PMS call time moved {shift * 1000:+.0f} ms ({means[0] * 1000:.0f} -> "
        f"{means[1] * 1000:.0f} ms), {'within' if ok else 'outside'} "
        f"[{_ms(lo, '-inf')}, {_ms(hi, 'inf')}] ms",
        {
            "before_s": round(means[0], 4),
            "during_s": round(means[1], 4),
            "shift_s": round(shift, 4),
        },
    )


def _min_at_least_one(spec: dict[str, Any]) -> bool:
    return float(spec.get("min", 0)) >= 1


def _order(seen: list[Transition], steps: list[dict[str, Any]]) -> list[int] | str:
    """Indexes of the transitions matching ``steps`` in order, or which step is missing."""
    matched, i = [], 0
    for step in steps:
        while i < len(seen) and (seen[i].source, seen[i].target) != (step["from"], step["to"]):
            i += 1
        if i == len(seen):
            return f"{step['from']}>{step['to']}"
        matched.append(i)
        i += 1
    return matched


def breaker_transitions(ev: Evidence, spec: dict[str, Any]) -> Outcome:
    breaker = spec["breaker"]
    if "circuit_breaker_transitions_total" not in ev.timeline.declared or not ev.timeline.span(
        None, None
    ):
        return INCONCLUSIVE, "no breaker readings over the run", {}
    seen = ev.timeline.transitions(breaker)
    listed = [{"transition": t.pair, "offset_s": round(t.latest - ev.fault_start, 2)} for t in seen]
    observed: dict[str, Any] = {"transitions": listed}
    got = " -> ".join(t.pair for t in seen) or "none"
    matched = _order(seen, spec["sequence"])
    if isinstance(matched, str):
        return (
            FAILED,
            f"{breaker} breaker never went {matched} in order (observed: {got})",
            observed,
        )
    for step, index in zip(spec["sequence"], matched, strict=True):
        if "after" not in step:
            continue
        anchor = ev.fault_start if step["after"] == "fault_start" else ev.fault_end
        took = seen[index].latest - anchor
        lo, hi = step.get("min_s", 0.0), step.get("within_s", math.inf)
        if not lo <= took <= hi:
            where = "before" if took < 0 else "after"
            return (
                FAILED,
                f"{step['from']}>{step['to']} came {abs(took):.2f} s {where} {step['after']}, "
                f"allowed [{lo:g}, {hi:g}] s after it",
                observed,
            )
    extra = [t for j, t in enumerate(seen) if j < matched[0] or j > matched[-1]]
    observed["extra"] = [t.pair for t in extra]
    if extra and spec["extra"] == "fail":
        where = "before" if seen.index(extra[0]) < matched[0] else "after"
        return (
            FAILED,
            f"{breaker} breaker made {len(extra)} unexpected transition(s) {where} the "
            f"expected sequence: {', '.join(t.pair for t in extra)} (observed: {got})",
            observed,
        )
    return PASSED, f"{breaker} breaker went {got}", observed


def breaker_quiet(ev: Evidence, spec: dict[str, Any]) -> Outcome:
    breaker = spec["breaker"]
    if "circuit_breaker_transitions_total" not in ev.timeline.declared or not ev.timeline.span(
        None, None
    ):
        return INCONCLUSIVE, "no breaker readings over the run", {}
    seen = ev.timeline.transitions(breaker)
    if seen:
        return FAILED, f"{breaker} breaker moved: {', '.join(t.pair for t in seen)}", {}
    n = len(ev.timeline.times())
    return PASSED, f"{breaker} breaker stayed closed over {n} readings", {"readings": n}


# Gauges of work put aside during a fault that must come back to 0 after it.
PENDING = {"audit_fallback_pending": "audit events", "whatsapp_outbox_pending": "outbox replies"}


def fallback_drained(ev: Evidence, spec: dict[str, Any]) -> Outcome:
    gauge = spec["gauge"]
    pending = ev.timeline.gauge(gauge)
    after = [(t, v) for t, v in pending if t >= ev.fault_end]
    if not after:
        return INCONCLUSIVE, f"{gauge} was not read after the fault", {}
    peak = max(v for _, v in pending)
    if after[-1][1] != 0:
        return (
            FAILED,
            f"{after[-1][1]:g} {PENDING[gauge]} still pending at the end (peak {peak:g})",
            {"peak": peak},
        )
    last_busy = max((t for t, v in after if v != 0), default=None)
    drained_at = min(t for t, v in after if v == 0 and (last_busy is None or t > last_busy))
    took = max(0.0, drained_at - ev.fault_end)
    ok = took <= spec["within_s"]
    return (
        PASSED if ok else FAILED,
        f"pending back to 0 {took:.1f} s after the fault (limit {spec['within_s']:g} s, "
        f"peak {peak:g})",
        {"peak": peak, "drained_after_s": round(took, 2)},
    )


def no_lost_audit_events(ev: Evidence, spec: dict[str, Any]) -> Outcome:
    audit = ev.audit
    if audit is None or audit.error:
        why = audit.error if audit else "the audit log was not queried"
        return INCONCLUSIVE, f"could not reconcile the audit log: {why}", {}
    observed = {
        "acknowledged": audit.acknowledged,
        "present": audit.present,
        "lost": audit.lost[:20],
        "duplicated": dict(list(audit.duplicated.items())[:20]),
    }
    if audit.acknowledged == 0:
        return INCONCLUSIVE, "no guest message was acknowledged, so nothing to reconcile", observed
    problems = []
    if audit.lost:
        problems.append(f"{len(audit.lost)} lost (e.g. {', '.join(audit.lost[:3])})")
    if audit.duplicated:
        dup = ", ".join(f"{k} x{n}" for k, n in list(audit.duplicated.items())[:3])
        problems.append(f"{len(audit.duplicated)} duplicated ({dup})")
    if problems:
        return (
            FAILED,
            f"of {audit.acknowledged} acknowledged messages: " + "; ".join(problems),
            observed,
        )
    return (
        PASSED,
        f"all {audit.acknowledged} acknowledged message ids in PostgreSQL exactly once",
        observed,
    )


def counter(ev: Evidence, spec: dict[str, Any]) -> Outcome:
    """Any agent counter's increase over a phase, its children chosen by labels."""
    metric, phase, labels = spec["metric"], spec["phase"], spec.get("labels", {})
    value = ev.increase(metric, phase, **labels)
    scope = "".join(f" {k}={v}" for k, v in labels.items())
    return _range(value, spec, f"{metric}{scope} ({phase})", _no_readings(ev, metric))


def _replies(ev: Evidence) -> ReplyCheck | str:
    replies = ev.replies
    if replies is None or replies.error:
        return replies.error if replies else "the Graph recorder was not read"
    if replies.messages == 0:
        return "no WhatsApp message was acknowledged, so no reply was owed"
    return replies


def whatsapp_replies(ev: Evidence, spec: dict[str, Any]) -> Outcome:
    """Every acknowledged WhatsApp message id answered exactly once through Graph."""
    replies = _replies(ev)
    if isinstance(replies, str):
        return INCONCLUSIVE, f"could not reconcile the replies: {replies}", {}
    observed = {
        "messages": replies.messages,
        "deliveries": replies.deliveries,
        "guests": replies.guests,
        "replies": replies.replies,
        "short": dict(list(replies.short.items())[:20]),
        "extra": dict(list(replies.extra.items())[:20]),
    }
    problems = []
    if replies.short:
        problems.append(f"{sum(replies.short.values())} never answered")
    if replies.extra:
        problems.append(f"{sum(replies.extra.values())} answered twice or more")
    of = (
        f"{replies.messages} messages ({replies.deliveries} deliveries) "
        f"from {replies.guests} guests"
    )
    if problems:
        return FAILED, f"of {of}: " + "; ".join(problems), observed
    return PASSED, f"{replies.replies} replies for {of}: each answered exactly once", observed


def please_type_replies(ev: Evidence, spec: dict[str, Any]) -> Outcome:
    """How many WhatsApp replies asked the guest to type what their voice note said."""
    replies = _replies(ev)
    if isinstance(replies, str):
        return INCONCLUSIVE, f"could not read the replies: {replies}", {}
    verdict, detail, observed = _range(float(replies.please_type), spec, "please-type replies", "")
    return verdict, f"{detail} (of {replies.replies} replies)", observed


def no_5xx(ev: Evidence, spec: dict[str, Any]) -> Outcome:
    samples = ev.phase(spec["phase"])
    bad = [s for s in samples if s.failed]
    channels = sorted({s.channel for s in samples})
    observed = {"requests": len(samples), "failed": len(bad), "channels": channels}
    if not samples:
        return INCONCLUSIVE, f"no guest traffic in phase {spec['phase']}", observed
    if bad:
        first = bad[0]
        what = f"HTTP {first.status}" if first.status else f"no answer ({first.error})"
        return (
            FAILED,
            f"{len(bad)} of {len(samples)} guest requests failed ({', '.join(channels)}); "
            f"first: {first.channel} {what}",
            observed,
        )
    return PASSED, f"0 of {len(samples)} guest requests failed ({', '.join(channels)})", observed


def _latencies(ev: Evidence, phase: str, spec: dict[str, Any]) -> list[float]:
    return [
        s.latency_s
        for s in ev.phase(phase)
        if not s.error.startswith("not sent")
        and (spec.get("label") is None or s.label == spec["label"])
        and (spec.get("channel") is None or s.channel == spec["channel"])
    ]


def p95_latency(ev: Evidence, spec: dict[str, Any]) -> Outcome:
    phase, need = spec["phase"], int(spec["min_samples"])
    latencies = _latencies(ev, phase, spec)
    if len(latencies) < need:
        return (
            INCONCLUSIVE,
            f"{len(latencies)} requests in phase {phase}, need {need} for a p95",
            {"n": len(latencies)},
        )
    p95 = quantile(latencies, 0.95)
    ok = p95 <= spec["max_s"]
    return (
        PASSED if ok else FAILED,
        f"p95 {phase} = {p95:.3f} s (limit {spec['max_s']:g} s, n={len(latencies)}, "
        "from intended send time)",
        {"p95_s": round(p95, 4), "n": len(latencies)},
    )


def latency_shift(ev: Evidence, spec: dict[str, Any]) -> Outcome:
    q, need = spec["quantile"], int(spec["min_samples"])
    before, during = _latencies(ev, "before", spec), _latencies(ev, "during", spec)
    scope = f" of {spec['label']}" if "label" in spec else ""
    if len(before) < need or len(during) < need:
        return (
            INCONCLUSIVE,
            f"{len(before)} requests{scope} before and {len(during)} during the fault, "
            f"need {need} in each",
            {"n_before": len(before), "n_during": len(during)},
        )
    a, b = quantile(before, q), quantile(during, q)
    shift = b - a
    observed = {
        "before_s": round(a, 4),
        "during_s": round(b, 4),
        "shift_s": round(shift, 4),
        "n_before": len(before),
        "n_during": len(during),
    }
    lo, hi = spec.get("min"), spec.get("max")
    ok = (lo is None or shift >= lo) and (hi is None or shift <= hi)
    bounds = f"[{_ms(lo, '-inf')}, {_ms(hi, 'inf')}] ms"
    return (
        PASSED if ok else FAILED,
        f"p{round(q * 100)}{scope} moved {shift * 1000:+.0f} ms from before to during the "
        f"fault ({a * 1000:.0f} -> {b * 1000:.0f} ms), {'within' if ok else 'outside'} {bounds}",
        observed,
    )


def _ms(seconds: float | None, unbounded: str) -> str:
    return unbounded if seconds is None else f"{seconds * 1000:+.0f}"


def cache_hit_rate(ev: Evidence, spec: dict[str, Any]) -> Outcome:
    hits = ev.increase("pms_cache_hits_total", spec["phase"])
    misses = ev.increase("pms_cache_misses_total", spec["phase"])
    if hits is None or misses is None:
        return INCONCLUSIVE, _no_readings(ev, "pms_cache_hits_total"), {}
    if hits + misses == 0:
        return INCONCLUSIVE, "no PMS cache lookups happened", {"hits": 0, "misses": 0}
    rate = hits / (hits + misses)
    ok = rate >= spec["min"]
    return (
        PASSED if ok else FAILED,
        f"cache hit rate {rate:.1%} (min {spec['min']:.0%}, {hits + misses:g} lookups)",
        {"rate": round(rate, 4), "hits": hits, "misses": misses},
    )


def degraded_replies(ev: Evidence, spec: dict[str, Any]) -> Outcome:
    phase = spec["phase"]
    answered = [s for s in ev.phase(phase) if s.acknowledged and s.degraded is not None]
    if not answered:
        return INCONCLUSIVE, f"no answered API request in phase {phase}", {"answered": 0}
    count = sum(1 for s in answered if s.degraded)
    verdict, detail, observed = _range(float(count), spec, f"degraded replies {phase}", "")
    return (
        verdict,
        f"{detail} (of {len(answered)} answered)",
        {**observed, "answered": len(answered)},
    )


def agent_restarts_seen(ev: Evidence, phase: str) -> list[float] | None:
    """The readings at which the agent's counters had started over (a new process).

    Counters never go down within a process, so any family's total below its value at
    the previous reading is a restart between the two. None without readings that
    cover the phase.
    """
    start, end = ev.window(phase)
    times = ev.timeline.span(start, end)
    if times is None:
        return None
    totals: dict[float, dict[str, float]] = {t: {} for t in times}
    for t, name, _, value in ev.timeline.rows:
        if t in totals and name.endswith(("_total", "_count")):
            totals[t][name] = totals[t].get(name, 0.0) + value
    return [
        later
        for earlier, later in itertools.pairwise(times)
        if any(totals[later].get(name, 0.0) < v for name, v in totals[earlier].items())
    ]


def agent_restarts(ev: Evidence, spec: dict[str, Any]) -> Outcome:
    seen = agent_restarts_seen(ev, spec["phase"])
    missing = "the agent's metric readings do not cover the window"
    verdict, detail, observed = _range(
        None if seen is None else float(len(seen)),
        spec,
        f"agent restarts ({spec['phase']})",
        missing,
    )
    if seen:
        observed["at_s"] = [round(t - ev.fault_start, 2) for t in seen]
    return verdict, detail, observed


def first_insert_after(ev: Evidence, anchor: float) -> float | None:
    """Seconds from ``anchor`` to the first reading showing a new audit row in PostgreSQL
    (written directly or replayed from the fallback file); None if none showed one."""
    inserted: dict[float, float] = {}
    for outcome in ("written", "replayed"):
        for t, children in ev.timeline.readings("audit_events_total", outcome=outcome).items():
            inserted[t] = inserted.get(t, 0.0) + sum(children.values())
    times = sorted(inserted)
    start = max(0, bisect.bisect_right(times, anchor) - 1)
    for earlier, later in itertools.pairwise(times[start:]):
        a, b = inserted[earlier], inserted[later]
        if later > anchor and (b - a if b >= a else b) > 0:
            return later - anchor
    return None


def audit_inserts_resume(ev: Evidence, spec: dict[str, Any]) -> Outcome:
    anchor = ev.recovered_at if spec["after"] == "recovery" else ev.fault_end
    if anchor is None:
        return INCONCLUSIVE, "no process fault recovered in this run (use after: fault_end)", {}
    if not [t for t in ev.timeline.times() if t > anchor]:
        return INCONCLUSIVE, f"the audit counters were not read after the {spec['after']}", {}
    if not [s for s in ev.samples if s.acknowledged and s.intended_at > anchor]:
        return INCONCLUSIVE, f"no guest message was acknowledged after the {spec['after']}", {}
    took = first_insert_after(ev, anchor)
    if took is None:
        last = ev.timeline.times()[-1] - anchor
        return (
            FAILED,
            f"no audit row reached PostgreSQL in the {last:.1f} s read after the {spec['after']}",
            {"first_insert_after_s": None},
        )
    ok = took <= spec["within_s"]
    return (
        PASSED if ok else FAILED,
        f"first audit row in PostgreSQL {took:.1f} s after the {spec['after']} "
        f"(limit {spec['within_s']:g} s)",
        {"first_insert_after_s": round(took, 2)},
    )


_PHASE = {"phase": _choice(WINDOWS)}
_BOUNDS = {"min": _count, "max": _count}


def _counter_kind(metric: str, what: str, labels: dict[str, Check] | None = None) -> Kind:
    return Kind(
        judge=_counter(metric, what, tuple(labels or ())),
        optional={**_PHASE, **_BOUNDS, **(labels or {})},
        defaults={"phase": "run"},
        one_of=("min", "max"),
        proves=_min_at_least_one,
    )


_LATENCY_SCOPE = {
    "label": _text,
    "channel": _choice(("api", "whatsapp")),
    "min_samples": _positive,
}

KINDS: dict[str, Kind] = {
    "breaker_transitions": Kind(
        judge=breaker_transitions,
        required={"breaker": _choice(BREAKERS), "sequence": _sequence},
        optional={"extra": _choice(("fail", "allow"))},
        defaults={"extra": "fail"},
        proves=lambda spec: True,
    ),
    "breaker_quiet": Kind(judge=breaker_quiet, required={"breaker": _choice(BREAKERS)}),
    "retries": Kind(
        judge=_counter("retry_attempts_total", "retries", ("operation", "outcome")),
        required={"operation": _text},
        optional={**_PHASE, **_BOUNDS, "outcome": _choice(("success", "failure"))},
        defaults={"phase": "run"},
        one_of=("min", "max"),
        proves=_min_at_least_one,
    ),
    "session_save_retries": _counter_kind("session_save_retries_total", "session save retries"),
    "fallback_writes": _counter_kind("audit_fallback_writes_total", "audit fallback writes"),
    "stale_served": _counter_kind("pms_cache_stale_served_total", "stale PMS answers served"),
    "audit_write_failures": Kind(
        judge=_counter("audit_write_failures_total", "audit writes that failed", ("reason",)),
        required={"reason": _choice(("timeout", "error"))},
        optional={**_PHASE, **_BOUNDS},
        defaults={"phase": "run"},
        one_of=("min", "max"),
        proves=_min_at_least_one,
    ),
    "pms_calls": Kind(
        judge=pms_calls,
        required={"outcome": _choice(PMS_OUTCOMES)},
        optional={**_PHASE, **_BOUNDS, "operation": _text},
        defaults={"phase": "run"},
        one_of=("min", "max"),
        proves=lambda spec: _min_at_least_one(spec) and spec["outcome"] != "success",
    ),
    "pms_latency_shift": Kind(
        judge=pms_latency_shift,
        optional={"min": _number, "max": _number, "operation": _text, "min_calls": _positive},
        defaults={"min_calls": 5},
        one_of=("min", "max"),
        proves=lambda spec: float(spec.get("min", 0)) > 0,
    ),
    "fallback_drained": Kind(
        judge=fallback_drained,
        required={"within_s": _number},
        optional={"gauge": _choice(tuple(PENDING))},
        defaults={"gauge": "audit_fallback_pending"},
    ),
    "counter": Kind(
        judge=counter,
        required={"metric": _metric},
        optional={**_PHASE, **_BOUNDS, "labels": _labels},
        defaults={"phase": "run"},
        one_of=("min", "max"),
        proves=_min_at_least_one,
    ),
    "whatsapp_replies": Kind(
        judge=whatsapp_replies, optional={"within_s": _number}, defaults={"within_s": 15.0}
    ),
    "please_type_replies": Kind(
        judge=please_type_replies,
        optional={**_BOUNDS},
        one_of=("min", "max"),
        proves=_min_at_least_one,
    ),
    "no_lost_audit_events": Kind(
        judge=no_lost_audit_events, optional={"within_s": _number}, defaults={"within_s": 30.0}
    ),
    "no_5xx": Kind(judge=no_5xx, optional=_PHASE, defaults={"phase": "run"}),
    "agent_restarts": Kind(
        judge=agent_restarts,
        optional={**_PHASE, **_BOUNDS},
        defaults={"phase": "run"},
        one_of=("min", "max"),
        proves=_min_at_least_one,
    ),
    "audit_inserts_resume": Kind(
        judge=audit_inserts_resume,
        required={"within_s": _number},
        optional={"after": _choice(("recovery", "fault_end"))},
        defaults={"after": "recovery"},
    ),
    "p95_latency": Kind(
        judge=p95_latency,
        required={"max_s": _positive},
        optional={"phase": _choice(PHASES), **_LATENCY_SCOPE},
        defaults={"phase": "during", "min_samples": DEFAULT_MIN_SAMPLES},
    ),
    "latency_shift": Kind(
        judge=latency_shift,
        optional={"quantile": _quantile, "min": _number, "max": _number, **_LATENCY_SCOPE},
        defaults={"quantile": 0.5, "min_samples": DEFAULT_MIN_SAMPLES},
        one_of=("min", "max"),
        proves=lambda spec: float(spec.get("min", 0)) > 0,
    ),
    "cache_hit_rate": Kind(
        judge=cache_hit_rate,
        required={"min": _number},
        optional=_PHASE,
        defaults={"phase": "run"},
    ),
    "degraded_replies": Kind(
        judge=degraded_replies,
        optional={**_PHASE, **_BOUNDS},
        defaults={"phase": "during"},
        one_of=("min", "max"),
        proves=_min_at_least_one,
    ),
}


def evaluate(expectation: Expectation, evidence: Evidence) -> Verdict:
    """Judge one expectation; a judge that breaks on odd data is inconclusive, not fatal."""
    try:
        status, detail, observed = KINDS[expectation.kind].judge(evidence, expectation.spec)
    except (KeyError, ValueError, TypeError, ZeroDivisionError) as exc:
        status, detail, observed = (
            INCONCLUSIVE,
            f"could not judge: {type(exc).__name__}: {exc}",
            {},
        )
    return Verdict(
        expectation.describe(),
        expectation.kind,
        status,
        detail,
        observed,
        expectation.proves_fault,
    )
