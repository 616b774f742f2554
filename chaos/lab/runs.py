"""Catalogue experiments run from a notebook, with overrides, as a ``Run`` of DataFrames.

``run("postgres-outage", s, fault_s=6, settle_s=10)`` validates the changed experiment
with the same ``ensure_experiment`` as files, runs it with ``run_experiment`` and returns
the journal together with tables a notebook can chart: the metric timeline, every guest
request, the verdicts and the fault windows, all in seconds since the first fault start.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import psycopg

from chaos.experiment.model import Experiment, catalogue, ensure_experiment
from chaos.experiment.runner import count_audit_rows, run_experiment
from chaos.lab.agents import temporary_agent
from chaos.lab.errors import LabError
from chaos.lab.metrics import gauge, increase
from chaos.observe import transitions
from chaos.report.charts import RunData, origin, outcome, run_data
from chaos.stack.state import StackState
from chaos.traffic import BackgroundLoad

REQUEST_COLUMNS = ["t", "status", "latency_s", "degraded", "intent", "phase", "outcome"]
# The overrides ``run`` accepts besides ``agent_env`` and ``audit_fallback``.
OVERRIDES = (
    "fault_s",
    "baseline_s",
    "settle_s",
    "rate_per_s",
    "guests",
    "attributes",
    "toxicity",
    "expectations",
    "load",
)


@dataclass(frozen=True)
class FaultWindow:
    """One fault of the method, in seconds since the first fault start."""

    start_s: float
    end_s: float
    label: str


@dataclass
class Run:
    """A finished experiment: its journal and the tables the charts and checks read."""

    journal: dict[str, Any]
    t0: float
    timeline: pd.DataFrame
    requests: pd.DataFrame
    verdicts: pd.DataFrame
    fault_windows: list[FaultWindow]
    agent: str = "stack"
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.journal["experiment"]["name"])

    @property
    def status(self) -> str:
        return str(self.journal["status"])

    @property
    def fault_end_s(self) -> float:
        return max((w.end_s for w in self.fault_windows), default=0.0)

    def series(self, metric: str, **labels: str) -> pd.Series:
        """A gauge (summed over matching label sets) indexed by relative time."""
        return gauge(self.timeline, metric, **labels)

    def increase(self, metric: str, by: str | None = None, **labels: str) -> pd.DataFrame:
        """A counter's cumulative increase since the first sample (one column per ``by``)."""
        return increase(self.timeline, metric, by, **labels)

    def transitions(self, breaker: str) -> pd.DataFrame:
        """The breaker's transitions in order, with ``t`` in relative seconds."""
        absolute = _absolute_timeline(self)
        rows = [
            {"t": tr["at"] - self.t0, "from": tr["from"], "to": tr["to"]}
            for tr in transitions(absolute, breaker)
        ]
        return pd.DataFrame(rows, columns=["t", "from", "to"])

    def phases(self) -> pd.DataFrame:
        """Guest requests per phase: count, 5xx, degraded share, p50 and p95 latency."""
        return phase_table(self.requests)


def report_data(r: Run) -> RunData:
    """The run in the shape ``chaos.report.charts`` draws."""
    return RunData(r.timeline, r.requests, [(w.start_s, w.end_s) for w in r.fault_windows], 0.7)


def _absolute_timeline(r: Run) -> pd.DataFrame:
    absolute = r.timeline.copy()
    absolute["t"] = absolute["t"] + r.t0
    return absolute


def phase_of(t: float, start_s: float, end_s: float) -> str:
    """before, during or after the fault window ``[start_s, end_s]``."""
    if t < start_s:
        return "before"
    return "during" if t <= end_s else "after"


def requests_frame(
    rows: Sequence[Sequence[Any]], t0: float, window: tuple[float, float]
) -> pd.DataFrame:
    """Guest requests ``(at, status, latency_s, degraded, intent)`` as a relative-time table."""
    df = pd.DataFrame([list(r[:5]) for r in rows], columns=REQUEST_COLUMNS[:5])
    df["t"] = df["t"].astype(float) - t0
    df["status"] = df["status"].astype(int)
    df["latency_s"] = df["latency_s"].astype(float)
    df["degraded"] = df["degraded"].astype(bool)
    start, end = window[0] - t0, window[1] - t0
    df["phase"] = [phase_of(t, start, end) for t in df["t"]]
    df["outcome"] = [outcome(s, d) for s, d in zip(df["status"], df["degraded"], strict=True)]
    return df[REQUEST_COLUMNS].sort_values("t").reset_index(drop=True)


def phase_table(requests: pd.DataFrame) -> pd.DataFrame:
    """Per phase: requests, 5xx or no answer, error ratio, degraded ratio, p50 and p95."""
    rows = []
    for phase in ("before", "during", "after"):
        part = requests[requests["phase"] == phase]
        n = len(part)
        errors = int(((part["status"] >= 500) | (part["status"] == 0)).sum())
        lat = part["latency_s"].to_numpy(dtype=float)
        rows.append(
            {
                "phase": phase,
                "requests": n,
                "errors": errors,
                "error_ratio": errors / n if n else np.nan,
                "degraded_ratio": float(part["degraded"].mean()) if n else np.nan,
                "p50_s": float(np.percentile(lat, 50)) if n else np.nan,
                "p95_s": float(np.percentile(lat, 95)) if n else np.nan,
            }
        )
    return pd.DataFrame(rows).set_index("phase")


def from_journal(journal: dict[str, Any], agent: str = "stack") -> Run:
    """The ``Run`` view of a journal (also of one read back from a file)."""
    data = run_data(journal)
    t0 = origin(journal)
    window = tuple(journal.get("fault_window") or (t0, t0))
    requests = requests_frame(journal.get("load") or [], t0, (float(window[0]), float(window[1])))
    verdicts = pd.DataFrame(
        journal.get("expectations") or [],
        columns=["expectation", "kind", "passed", "detail", "observed"],
    )
    faults = [
        FaultWindow(
            float(m["started_at"]) - t0,
            float(m.get("ended_at") or m["started_at"]) - t0,
            str(m["fault"]),
        )
        for m in journal.get("method") or []
        if m.get("started_at")
    ]
    return Run(
        journal=journal,
        t0=t0,
        timeline=data.timeline,
        requests=requests,
        verdicts=verdicts[["expectation", "kind", "passed", "detail"]],
        fault_windows=faults,
        agent=agent,
    )


def audit_count(stack: StackState, guest_prefix: str) -> dict[str, Any]:
    """Message audit rows in PostgreSQL for guests whose id starts with ``guest_prefix``."""
    try:
        rows, distinct = count_audit_rows(stack.url("postgres"), guest_prefix)
    except psycopg.Error as exc:
        return {"audit_rows": None, "audit_distinct": None, "audit_error": str(exc)}
    return {"audit_rows": rows, "audit_distinct": distinct, "guest_prefix": guest_prefix}


def with_overrides(exp: Experiment, **overrides: Any) -> Experiment:
    """The experiment with changed durations, load or fault attributes, validated again."""
    unknown = sorted(set(overrides) - set(OVERRIDES))
    if unknown:
        raise LabError(f"unknown override(s) {', '.join(unknown)}; allowed: {', '.join(OVERRIDES)}")
    raw = copy.deepcopy(exp.raw)
    for key in ("baseline_s", "settle_s"):
        if overrides.get(key) is not None:
            raw[key] = overrides[key]
    for step in raw["method"]:
        if overrides.get("fault_s") is not None:
            step["duration_s"] = overrides["fault_s"]
        if overrides.get("attributes"):
            step["fault"]["attributes"] = {
                **step["fault"].get("attributes", {}),
                **overrides["attributes"],
            }
        if overrides.get("toxicity") is not None:
            step["fault"]["toxicity"] = overrides["toxicity"]
    if overrides.get("load") is not None:
        raw["load"] = overrides["load"]
    if overrides.get("rate_per_s") is not None or overrides.get("guests") is not None:
        load = dict(raw.get("load") or {})
        for key in ("rate_per_s", "guests"):
            if overrides.get(key) is not None:
                load[key] = overrides[key]
        raw["load"] = load
    if overrides.get("expectations") is not None:
        raw["expectations"] = list(overrides["expectations"])
    return ensure_experiment(raw, exp.path)


def experiment(name_or_experiment: str | Experiment | Mapping[str, Any]) -> Experiment:
    """A catalogue experiment by name, an ``Experiment``, or experiment data to validate."""
    if isinstance(name_or_experiment, Experiment):
        return name_or_experiment
    if isinstance(name_or_experiment, Mapping):
        return ensure_experiment(dict(name_or_experiment))
    known = catalogue()
    if name_or_experiment not in known:
        raise LabError(f"no experiment named {name_or_experiment!r}; known: {', '.join(known)}")
    return known[name_or_experiment]


def run(
    name_or_experiment: str | Experiment | Mapping[str, Any],
    stack: StackState,
    *,
    agent_env: Mapping[str, str] | None = None,
    audit_fallback: str = "file",
    sample_interval_s: float = 0.25,
    progress: Callable[[str], None] = print,
    **overrides: Any,
) -> Run:
    """Run an experiment against ``stack`` and return its ``Run``.

    ``audit_fallback="discard"`` (or any ``agent_env``) runs it against a throwaway agent
    configured that way instead of the stack's own; "discard" sends the audit fallback to
    /dev/null, so events PostgreSQL cannot take are lost.
    """
    if audit_fallback not in ("file", "discard"):
        raise LabError(f"audit_fallback must be 'file' or 'discard', got {audit_fallback!r}")
    exp = experiment(name_or_experiment)
    if overrides:
        exp = with_overrides(exp, **overrides)
    began = time.monotonic()
    if agent_env or audit_fallback == "discard":
        with temporary_agent(
            stack, agent_env, discard_audit_fallback=audit_fallback == "discard"
        ) as variant:
            progress(
                f"{exp.name} against a throwaway agent at {variant.url('agent')} "
                f"(audit fallback: {audit_fallback}, settings: {dict(agent_env or {})})"
            )
            journal = run_experiment(
                exp, variant, progress=progress, sample_interval_s=sample_interval_s
            )
        agent = f"throwaway agent (audit fallback {audit_fallback})"
    else:
        journal = run_experiment(exp, stack, progress=progress, sample_interval_s=sample_interval_s)
        agent = "stack"
    result = from_journal(journal, agent)
    result.notes["wall_s"] = round(time.monotonic() - began, 1)
    result.notes.update(audit_count(stack, f"exp-{journal['run_id']}"))
    progress(
        f"{exp.name}: {result.status.upper()} in {result.notes['wall_s']} s"
        + (f" ({journal['error']})" if journal.get("error") else "")
    )
    return result


def latency_steps(
    stack: StackState,
    proxy: str = "redis",
    steps_ms: Sequence[int] = (100, 300, 450, 600, 900),
    step_s: float = 8.0,
    *,
    jitter_ms: int = 0,
    baseline_s: float = 3.0,
    settle_s: float = 4.0,
    rate_per_s: float = 4.0,
    concurrency: int = 3,
    progress: Callable[[str], None] = print,
) -> Run:
    """Latency on ``proxy`` in consecutive steps of ``step_s`` seconds, under light load.

    The runner's load sends one message at a time; ``concurrency - 1`` more such loads run
    alongside (other guests), so slow steps still get several replies. ``requests`` holds
    them all; the verdicts judge the runner's own. Only a liveness probe runs during the
    method: a message probe would wait on the slow dependency and delay the schedule.
    """
    if not steps_ms:
        raise LabError("steps_ms needs at least one latency")
    if concurrency < 1:
        raise LabError(f"concurrency must be at least 1, got {concurrency}")
    method = [
        {
            "fault": {
                "proxy": proxy,
                "type": "latency",
                "attributes": {"latency": int(ms), "jitter": int(jitter_ms)},
            },
            "start_s": i * step_s,
            "duration_s": step_s,
        }
        for i, ms in enumerate(steps_ms)
    ]
    data = {
        "name": f"{proxy}-latency-steps",
        "title": f"{proxy} latency in steps of {step_s:g} s: "
        + ", ".join(f"{int(ms)} ms" for ms in steps_ms),
        "purpose": f"Where growing {proxy} latency starts to cost retries and degraded replies",
        "steady_state": [
            {"name": "agent-live", "type": "http", "path": "/health/live", "safety": True}
        ],
        "method": method,
        "expectations": [{"no_5xx": {}}],
        "baseline_s": baseline_s,
        "settle_s": settle_s,
        "load": {"rate_per_s": rate_per_s, "guests": 10},
    }
    prefix = f"lab-{uuid.uuid4().hex[:8]}"
    extra = [
        BackgroundLoad(
            stack.url("agent"),
            rate_per_s=rate_per_s,
            guests=10,
            seed=100 + i,
            guest_prefix=f"{prefix}-{i}",
        ).start()
        for i in range(concurrency - 1)
    ]
    try:
        result = run(data, stack, progress=progress)
    finally:
        samples = [sample for load in extra for sample in load.stop()]
    rows = list(result.journal.get("load") or []) + [
        [x.at, x.status, x.latency_s, x.degraded, x.intent] for x in samples
    ]
    window = result.journal.get("fault_window") or (result.t0, result.t0)
    result.requests = requests_frame(rows, result.t0, (float(window[0]), float(window[1])))
    result.notes.update(
        {"steps_ms": [int(ms) for ms in steps_ms], "proxy": proxy, "concurrency": concurrency}
    )
    return result
