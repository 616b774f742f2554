"""Catalogue experiments run from a notebook, with overrides, as a ``Run``.

``run("postgres-outage", s, fault_s=6, settle_s=10)`` validates the changed experiment
with the same ``ensure_experiment`` as files, runs it with ``run_experiment`` and returns
its journal wrapped in tables a notebook shows: the guest requests, the verdicts, the
breaker transitions, in seconds since the first fault start.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from chaos.experiment.expectations import Evidence
from chaos.experiment.model import Experiment, catalogue, ensure_experiment
from chaos.experiment.runner import Traffic, run_experiment
from chaos.figures.base import fault_windows, phase_table, relative, requests_frame
from chaos.figures.runs import increase
from chaos.journal import Journal
from chaos.lab.agents import temporary_agent
from chaos.lab.errors import LabError
from chaos.stack.state import StackState

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


@dataclass
class Run:
    """A finished experiment: its journal, and the tables the charts and checks read."""

    journal: Journal
    agent: str = "stack"
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.journal.name

    @property
    def status(self) -> str:
        return self.journal.status

    @property
    def t0(self) -> float:
        return self.journal.origin

    @property
    def fault_windows(self) -> list[tuple[float, float]]:
        """Each fault as the proxy confirmed it, ``(start, end)`` seconds since ``t0``."""
        return fault_windows(self.journal)

    @property
    def fault_end_s(self) -> float:
        return max((end for _, end in self.fault_windows), default=0.0)

    @property
    def requests(self) -> pd.DataFrame:
        return requests_frame(self.journal)

    @property
    def verdicts(self) -> pd.DataFrame:
        rows = [[v.expectation, v.status, v.detail] for v in self.journal.verdicts]
        return pd.DataFrame(rows, columns=["expectation", "verdict", "detail"])

    def series(self, metric: str, **labels: str) -> pd.Series:
        """A gauge (matching children summed) indexed by seconds since ``t0``."""
        return relative(self.journal.timeline.gauge(metric, **labels), self.t0)

    def increase(self, metric: str, by: str | None = None, **labels: str) -> pd.DataFrame:
        """A counter's increase since the first reading (one column per value of ``by``)."""
        return increase(self.journal, metric, by, **labels)

    def grew(self, metric: str, start_s: float, end_s: float, **labels: str) -> float | None:
        """How much a counter grew between two moments (seconds since ``t0``)."""
        return self.journal.timeline.increase(metric, self.t0 + start_s, self.t0 + end_s, **labels)

    def transitions(self, breaker: str) -> pd.DataFrame:
        """The breaker's transitions in order, ``t`` in seconds since ``t0``."""
        rows = [
            {"t": tr.latest - self.t0, "from": tr.source, "to": tr.target}
            for tr in self.journal.timeline.transitions(breaker)
        ]
        return pd.DataFrame(rows, columns=["t", "from", "to"])

    def phases(self) -> pd.DataFrame:
        """Guest requests per phase: count, failed, degraded share, p50 and p95 latency."""
        return phase_table(self.requests)

    def evidence(self) -> Evidence:
        """What the run's expectations were judged on, for the notebook checks."""
        return Evidence.of(self.journal)


def open_run(path: str | Path) -> Run:
    """A run read back from its journal file (``reports/experiments/NAME.json``)."""
    return Run(Journal.read(Path(path)), agent="from journal")


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
    load: Traffic | None = None,
    progress: Callable[[str], None] = print,
    **overrides: Any,
) -> Run:
    """Run an experiment against ``stack`` and return its ``Run``.

    ``audit_fallback="discard"`` (or any ``agent_env``) runs it against a throwaway agent
    configured that way instead of the stack's own; "discard" sends the audit fallback to
    /dev/null, so events PostgreSQL cannot take are lost. ``load`` replaces the
    experiment's own traffic (a ``LocustLoad``, say).
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
                exp, variant, progress=progress, sample_interval_s=sample_interval_s, load=load
            )
        agent = f"throwaway agent (audit fallback {audit_fallback})"
    else:
        journal = run_experiment(
            exp, stack, progress=progress, sample_interval_s=sample_interval_s, load=load
        )
        agent = "stack"
    result = Run(journal, agent, {"wall_s": round(time.monotonic() - began, 1)})
    progress(
        f"{exp.name}: {result.status.upper()} in {result.notes['wall_s']} s"
        + (f" ({journal.reason()})" if journal.reason() else "")
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
    rate_per_s: float = 8.0,
    progress: Callable[[str], None] = print,
) -> Run:
    """Latency on ``proxy`` in consecutive steps of ``step_s`` seconds, under open-model load.

    Only a liveness probe runs during the method. The run's own expectation is that the
    latency shows in the replies (p50 rises by at least half the first step).
    """
    if not steps_ms:
        raise LabError("steps_ms needs at least one latency")
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
        "expectations": [
            {"no_5xx": {}},
            {"latency_shift": {"min": min(steps_ms) / 2000}},
        ],
        "baseline_s": baseline_s,
        "settle_s": settle_s,
        "load": {"rate_per_s": rate_per_s, "guests": 20},
    }
    result = run(data, stack, progress=progress)
    result.notes.update({"steps_ms": [int(ms) for ms in steps_ms], "proxy": proxy})
    return result
