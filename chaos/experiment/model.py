"""The experiment file format and its validation.

``ensure_*`` functions validate raw data and raise ``ExperimentError`` naming the exact
field (``method[1].fault.attributes.latency: ...``) before anything is injected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from chaos.exceptions import ExperimentError
from chaos.experiment.alerts import AlertPlan, ensure_alerts
from chaos.experiment.compare import Comparison, ensure_comparison
from chaos.experiment.expectations import Expectation, ensure_expectation
from chaos.experiment.guardrails import Guardrail, ensure_guardrail
from chaos.faults import FAULT_TYPES, SERVICE_FAULTS, Fault, attribute_problem
from chaos.load.conversations import DEFAULT_MIX
from chaos.processfaults import PROCESS_FAULTS, is_process_fault, recovery_delay_s

# Expectations judged on guest requests: they need the run's load.
TRAFFIC_KINDS = frozenset(
    {
        "no_5xx",
        "p95_latency",
        "latency_shift",
        "degraded_replies",
        "no_lost_audit_events",
        "whatsapp_replies",
        "please_type_replies",
    }
)

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
PHASES = ("before", "during", "after")
PROBE_TYPES = ("http", "metric", "message", "conversation")
PROBE_FIELDS = {
    "http": {"path", "status", "contains", "timeout_s"},
    "message": {"text", "max_latency_s", "not_degraded", "timeout_s"},
    "metric": {"metric", "labels", "equals", "min", "max"},
    # A guest who starts a conversation before the method and resumes it after.
    "conversation": {"start", "resume", "intent", "timeout_s"},
}


@dataclass(frozen=True)
class Probe:
    name: str
    type: str
    spec: dict[str, Any]
    when: tuple[str, ...] = PHASES
    safety: bool = False


@dataclass(frozen=True)
class Step:
    fault: Fault
    start_s: float
    duration_s: float

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


@dataclass(frozen=True)
class Load:
    """The guest traffic of a run: an open-model load, or a Locust scenario."""

    rate_per_s: float = 4.0
    guests: int = 10
    whatsapp_share: float = 0.2
    voice_share: float = 0.0  # of the WhatsApp messages, voice notes
    duplicate_share: float = 0.0  # of the WhatsApp messages, delivered twice
    concurrent_share: float = 0.0  # of the duplicates, the two copies at once
    stays: int = 30
    skew: float = 1.1
    mix: tuple[str, ...] = ()
    lead_days: int = 0
    locust: str | None = None


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    purpose: str
    steady_state: tuple[Probe, ...]
    method: tuple[Step, ...]
    expectations: tuple[Expectation, ...]
    comparisons: tuple[Comparison, ...] = ()
    guardrails: tuple[Guardrail, ...] = ()
    load: Load | None = Load()
    baseline_s: float = 3.0
    settle_s: float = 10.0
    tags: tuple[str, ...] = ()
    path: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    alerts: AlertPlan | None = None  # expected and forbidden alerts (chaos.experiment.alerts)

    @property
    def method_s(self) -> float:
        return max((s.end_s for s in self.method), default=0.0)


def _fail(where: str, why: str) -> ExperimentError:
    return ExperimentError(f"{where}: {why}")


def _number(value: Any, where: str, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise _fail(where, f"must be a number >= {minimum:g}, got {value!r}")
    return float(value)


def _share(value: Any, where: str) -> float:
    share = _number(value, where)
    if share > 1:
        raise _fail(where, f"must be between 0 and 1, got {share:g}")
    return share


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, f"must be a mapping, got {type(value).__name__}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(where, f"must be a list, got {type(value).__name__}")
    return value


def _only(data: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise _fail(
            where, f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def _service_fault(d: dict[str, Any], where: str) -> Fault:
    _only(d, {"service", "type", "attributes"}, where)
    ftype, service = d.get("type"), d.get("service")
    if ftype not in SERVICE_FAULTS:
        raise _fail(
            f"{where}.type", f"service faults are {', '.join(SERVICE_FAULTS)}, got {ftype!r}"
        )
    if service not in SERVICE_FAULTS[ftype]:
        known = ", ".join(SERVICE_FAULTS[ftype])
        raise _fail(f"{where}.service", f"{ftype} applies to {known}, got {service!r}")
    attrs = _mapping(d.get("attributes", {}), f"{where}.attributes")
    allowed = PROCESS_FAULTS.get(ftype)
    for key, value in attrs.items():
        if key != allowed:
            raise _fail(
                f"{where}.attributes.{key}",
                f"not an attribute of {ftype}; allowed: {allowed or 'none'}",
            )
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _fail(
                f"{where}.attributes.{key}", f"must be a non-negative integer, got {value!r}"
            )
    return Fault(proxy="", type=ftype, service=service, attributes=dict(attrs))


def ensure_fault(data: Any, where: str, proxies: set[str] | None = None) -> Fault:
    """A valid fault, or an error naming the field."""
    d = _mapping(data, where)
    if "service" in d:
        return _service_fault(d, where)
    _only(d, {"proxy", "type", "attributes", "stream", "toxicity"}, where)
    proxy, ftype = d.get("proxy"), d.get("type")
    if not isinstance(proxy, str) or not proxy:
        raise _fail(f"{where}.proxy", "is required (a proxy name such as redis, postgres, pms)")
    if proxies is not None and proxy not in proxies:
        raise _fail(
            f"{where}.proxy", f"no proxy named {proxy!r}; known: {', '.join(sorted(proxies))}"
        )
    if ftype not in FAULT_TYPES:
        raise _fail(f"{where}.type", f"must be one of {', '.join(FAULT_TYPES)}, got {ftype!r}")
    attrs = _mapping(d.get("attributes", {}), f"{where}.attributes")
    problem = attribute_problem(ftype, attrs)
    if problem:
        raise _fail(f"{where}.attributes.{problem[0]}", problem[1])
    stream = d.get("stream", "downstream")
    if stream not in ("upstream", "downstream"):
        raise _fail(f"{where}.stream", f"must be upstream or downstream, got {stream!r}")
    toxicity = _number(d.get("toxicity", 1.0), f"{where}.toxicity")
    if toxicity > 1:
        raise _fail(f"{where}.toxicity", f"must be between 0 and 1, got {toxicity:g}")
    return Fault(proxy=proxy, type=ftype, attributes=dict(attrs), stream=stream, toxicity=toxicity)


def ensure_step(data: Any, where: str, proxies: set[str] | None = None) -> Step:
    """A valid method step; a process fault's recovery must come within its step."""
    step = _mapping(data, where)
    _only(step, {"fault", "start_s", "duration_s"}, where)
    built = Step(
        fault=ensure_fault(step.get("fault"), f"{where}.fault", proxies),
        start_s=_number(step.get("start_s", 0), f"{where}.start_s"),
        duration_s=_number(step.get("duration_s"), f"{where}.duration_s", minimum=0.1),
    )
    delay = recovery_delay_s(built.fault) if is_process_fault(built.fault) else None
    if delay is not None and delay > built.duration_s:
        key = PROCESS_FAULTS[built.fault.type]
        raise _fail(
            f"{where}.fault.attributes.{key}",
            f"{delay * 1000:g} ms is after the step ends ({built.duration_s:g} s): the "
            "recovery must come within the step",
        )
    return built


def ensure_probe(data: Any, where: str) -> Probe:
    d = _mapping(data, where)
    name, ptype = d.get("name"), d.get("type")
    if not isinstance(name, str) or not name:
        raise _fail(f"{where}.name", "is required")
    if ptype not in PROBE_TYPES:
        raise _fail(f"{where}.type", f"must be one of {', '.join(PROBE_TYPES)}, got {ptype!r}")
    _only(d, {"name", "type", "when", "safety", *PROBE_FIELDS[ptype]}, where)
    default = ["before", "after"] if ptype == "conversation" else list(PHASES)
    when = tuple(_list(d.get("when", default), f"{where}.when"))
    for phase in when:
        if phase not in PHASES:
            raise _fail(f"{where}.when", f"phases are {', '.join(PHASES)}, got {phase!r}")
    if ptype == "conversation":
        for key in ("start", "resume"):
            if not isinstance(d.get(key), str) or not d[key].strip():
                raise _fail(f"{where}.{key}", "is required: a guest message")
        if sorted(when) != ["after", "before"]:
            raise _fail(f"{where}.when", "a conversation starts before the method, resumes after")
    if ptype == "metric":
        if not isinstance(d.get("metric"), str):
            raise _fail(f"{where}.metric", "is required for a metric probe")
        if not any(k in d for k in ("equals", "min", "max")):
            raise _fail(where, "a metric probe needs equals, min or max")
    if ptype == "http" and not str(d.get("path", "")).startswith("/"):
        raise _fail(f"{where}.path", "must be an agent path starting with /")
    spec = {k: v for k, v in d.items() if k not in ("name", "type", "when", "safety")}
    return Probe(name=name, type=ptype, spec=spec, when=when, safety=bool(d.get("safety", False)))


def ensure_experiment(data: Any, path: str = "", proxies: set[str] | None = None) -> Experiment:
    """Validate a whole experiment document and build it."""
    d = _mapping(data, "experiment")
    _only(
        d,
        {
            "name",
            "title",
            "purpose",
            "steady_state",
            "method",
            "expectations",
            "compare",
            "abort_when",
            "load",
            "baseline_s",
            "settle_s",
            "tags",
            "alerts",
        },
        "experiment",
    )
    name = d.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise _fail("name", "must be lowercase letters, digits and dashes (2-63 chars)")
    for key in ("title", "purpose"):
        if not isinstance(d.get(key), str) or not d[key].strip():
            raise _fail(key, "is required: one line saying what the experiment shows")
    probes = tuple(
        ensure_probe(p, f"steady_state[{i}]")
        for i, p in enumerate(_list(d.get("steady_state", []), "steady_state"))
    )
    steps = [
        ensure_step(raw, f"method[{i}]", proxies)
        for i, raw in enumerate(_list(d.get("method"), "method"))
    ]
    if not steps:
        raise _fail("method", "needs at least one fault")
    expectations = tuple(
        ensure_expectation(e, f"expectations[{i}]")
        for i, e in enumerate(_list(d.get("expectations", []), "expectations"))
    )
    comparisons = tuple(
        ensure_comparison(c, f"compare[{i}]")
        for i, c in enumerate(_list(d.get("compare", []), "compare"))
    )
    if not expectations and not comparisons:
        raise _fail(
            "expectations", "needs at least one expectation: a verifier must be able to fail"
        )
    if not any(e.proves_fault for e in expectations) and not any(
        c.proves_fault for c in comparisons
    ):
        raise _fail(
            "expectations",
            "none of them can show that the fault had an effect; add one that fails when the "
            "fault does nothing (breaker_transitions, a counter with min >= 1, degraded_replies "
            "with min >= 1, pms_calls of a failed outcome, latency_shift with min > 0, "
            "or a compare entry with min_increase)",
        )
    load: Load | None = Load()
    if d.get("load") is False:
        load = None
    elif d.get("load") is not None:
        ld = _mapping(d["load"], "load")
        _only(
            ld,
            {
                "rate_per_s",
                "guests",
                "whatsapp_share",
                "voice_share",
                "duplicates",
                "stays",
                "skew",
                "mix",
                "lead_days",
                "locust",
            },
            "load",
        )
        mix = tuple(_list(ld.get("mix", []), "load.mix"))
        unknown = sorted(set(mix) - set(DEFAULT_MIX))
        if unknown:
            raise _fail(
                "load.mix",
                f"unknown conversation kind(s) {', '.join(map(str, unknown))}; "
                f"known: {', '.join(DEFAULT_MIX)}",
            )
        share = _number(ld.get("whatsapp_share", Load.whatsapp_share), "load.whatsapp_share")
        if share > 1:
            raise _fail("load.whatsapp_share", f"must be between 0 and 1, got {share:g}")
        voice = _share(ld.get("voice_share", 0.0), "load.voice_share")
        dup = _mapping(ld.get("duplicates", {}), "load.duplicates")
        _only(dup, {"share", "concurrent"}, "load.duplicates")
        duplicates = _share(dup.get("share", 0.0), "load.duplicates.share")
        concurrent = _share(dup.get("concurrent", 0.0), "load.duplicates.concurrent")
        if (voice or duplicates) and not share:
            raise _fail(
                "load", "voice notes and duplicates are WhatsApp messages: set whatsapp_share"
            )
        locust = ld.get("locust")
        if locust is not None and (not isinstance(locust, str) or not locust):
            raise _fail("load.locust", "must be the name of a Locust scenario")
        load = Load(
            rate_per_s=_number(
                ld.get("rate_per_s", Load.rate_per_s), "load.rate_per_s", minimum=0.1
            ),
            guests=int(_number(ld.get("guests", Load.guests), "load.guests", minimum=1)),
            whatsapp_share=share,
            voice_share=voice,
            duplicate_share=duplicates,
            concurrent_share=concurrent,
            stays=int(_number(ld.get("stays", Load.stays), "load.stays", minimum=1)),
            skew=_number(ld.get("skew", Load.skew), "load.skew"),
            mix=mix,
            lead_days=int(_number(ld.get("lead_days", 0), "load.lead_days")),
            locust=locust,
        )
    if load is None and (comparisons or any(e.kind in TRAFFIC_KINDS for e in expectations)):
        kinds = sorted({e.kind for e in expectations if e.kind in TRAFFIC_KINDS})
        raise _fail("load", f"is off, but {', '.join(kinds)} judge guest traffic")
    return Experiment(
        name=name,
        title=d["title"].strip(),
        purpose=d["purpose"].strip(),
        steady_state=probes,
        method=tuple(steps),
        expectations=expectations,
        comparisons=comparisons,
        guardrails=tuple(
            ensure_guardrail(g, f"abort_when[{i}]")
            for i, g in enumerate(_list(d.get("abort_when", []), "abort_when"))
        ),
        load=load,
        baseline_s=_number(d.get("baseline_s", 3.0), "baseline_s"),
        settle_s=_number(d.get("settle_s", 10.0), "settle_s"),
        tags=tuple(str(t) for t in d.get("tags", [])),
        path=path,
        raw=d,
        alerts=ensure_alerts(d["alerts"]) if "alerts" in d else None,
    )


def load_experiment(path: Path, proxies: set[str] | None = None) -> Experiment:
    """Read and validate an experiment file (YAML or JSON)."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ExperimentError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ExperimentError(f"{path}: not valid YAML: {exc}".splitlines()[0]) from exc
    try:
        return ensure_experiment(data, str(path), proxies)
    except ExperimentError as exc:
        raise ExperimentError(f"{path.name}: {exc}") from exc


CATALOGUE_DIR = Path(__file__).resolve().parent.parent / "experiments"


def catalogue(directory: Path = CATALOGUE_DIR) -> dict[str, Experiment]:
    """Every experiment shipped in ``chaos/experiments``, by name."""
    found = {}
    for path in sorted(directory.glob("*.yaml")):
        exp = load_experiment(path)
        found[exp.name] = exp
    return found
