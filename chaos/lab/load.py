"""Guest traffic from Locust (always a subprocess, through ``chaos.load.runner.LocustLoad``).

``guest_traffic`` drives a scenario against an agent while sampling its ``/metrics``;
``ttl_sweep`` and ``mix_sweep`` repeat that with one thing changed (the availability
cache TTL of a throwaway agent, or which conversations the guests have), each point
from a cold cache so the points compare. ``run_under_load`` runs a catalogue experiment
while Locust is the load, and judges it on Locust's requests.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import redis

from chaos.lab.agents import temporary_agent
from chaos.lab.errors import LabError
from chaos.lab.metrics import hit_counts
from chaos.lab.runs import Run, from_journal, requests_frame
from chaos.observe import MetricsSampler
from chaos.stack.state import StackState

#: Conversation mixes: the Locust tasks both guest classes run (None: the scenario's own mix).
MIXES: dict[str, tuple[str, ...] | None] = {
    "default": None,
    "availability": ("availability",),
    "browsing": ("room_options", "information"),
    "booking": ("availability", "booking"),
}
# Fresh PMS cache entries only: the stale copies stay, a PMS outage still needs them.
CACHE_PATTERNS = ("pms:availability:*", "pms:index:availability:*", "pms:room_types")
TTL_ENV = "AGENT_PMS__CACHE_AVAILABILITY_TTL_S"


@dataclass
class Traffic:
    """One Locust run against one agent, and the agent's metrics sampled meanwhile."""

    label: str
    t0: float
    timeline: pd.DataFrame
    requests: pd.DataFrame
    out_base: Path | None  # Locust's own files (stats, HTML), kept when out_dir was given
    settings: dict[str, Any] = field(default_factory=dict)

    def hit_ratio(self, kind: str | None = None, after_s: float | None = None) -> float:
        """Hits / lookups from ``after_s`` (default: the first sample) to the end."""
        hits, misses = hit_counts(self.timeline, kind)
        if after_s is not None:
            hits, misses = hits[hits.index >= after_s], misses[misses.index >= after_s]
        if hits.empty:
            return float("nan")
        h = float(hits.iloc[-1] - hits.iloc[0])
        m = float(misses.iloc[-1] - misses.iloc[0])
        return h / (h + m) if h + m > 0 else float("nan")

    def lookups(self, kind: str | None = None) -> float:
        hits, misses = hit_counts(self.timeline, kind)
        return float(hits.iloc[-1] + misses.iloc[-1]) if len(hits) else 0.0

    def summary(self) -> dict[str, Any]:
        """The row a sweep table shows for this run."""
        n = len(self.requests)
        errors = int(((self.requests["status"] >= 500) | (self.requests["status"] == 0)).sum())
        return {
            **self.settings,
            "requests": n,
            "errors": errors,
            "lookups": self.lookups(),
            "hit_ratio": self.hit_ratio(),
            "availability_hit_ratio": self.hit_ratio("availability"),
            "room_types_hit_ratio": self.hit_ratio("room_types"),
        }


def cold_cache(stack: StackState) -> int:
    """Delete the fresh PMS cache entries in Redis (direct, not through the proxy)."""
    client = redis.Redis.from_url(stack.url("redis"), socket_timeout=5, socket_connect_timeout=5)
    removed = 0
    try:
        for pattern in CACHE_PATTERNS:
            keys = list(client.scan_iter(match=pattern, count=500))
            for i in range(0, len(keys), 500):
                removed += int(client.delete(*keys[i : i + 500]))
    finally:
        client.close()
    return removed


def locust_args(mix: str, think_time: str, seed: int) -> tuple[str, ...]:
    """Extra Locust options for a mix, a think time and a seed."""
    if mix not in MIXES:
        raise LabError(f"unknown mix {mix!r}; known: {', '.join(MIXES)}")
    args = ["--think-time", think_time, "--seed", str(seed)]
    tasks = MIXES[mix]
    if tasks is not None:
        users = [
            {"user_class_name": c, "tasks": list(tasks)} for c in ("ApiGuest", "WhatsAppGuest")
        ]
        args += ["--config-users", json.dumps(users)]
    return tuple(args)


def _start_locust(
    agent_url: str,
    *,
    scenario: str,
    users: int,
    mix: str,
    think_time: str,
    seed: int,
    out_dir: Path,
    guest_prefix: str,
) -> Any:
    from chaos.load.runner import LocustLoad

    return LocustLoad(
        agent_url,
        scenario,
        users=users,
        spawn_rate=users,
        run_time_s=None,
        out_dir=out_dir,
        guest_prefix=guest_prefix,
        extra_args=locust_args(mix, think_time, seed),
    ).start()


def guest_traffic(
    stack: StackState,
    *,
    run_s: float = 30.0,
    users: int = 10,
    scenario: str = "steady",
    mix: str = "default",
    think_time: str = "0.2,1",
    seed: int = 7,
    cold: bool = True,
    out_dir: Path | None = None,
    label: str | None = None,
    sample_interval_s: float = 0.5,
    settings: Mapping[str, Any] | None = None,
) -> Traffic:
    """Drive Locust against the stack's agent for ``run_s`` seconds, sampling its metrics.

    With ``cold`` the fresh PMS cache entries are deleted first, so the run shows the
    cache warming up from empty. Locust's own files (stats, HTML report) are kept in
    ``out_dir`` when given, else written to a temporary folder and removed.
    """
    if run_s <= 0 or users < 1:
        raise LabError(f"need run_s > 0 and users >= 1, got run_s={run_s}, users={users}")
    if cold:
        cold_cache(stack)
    out = out_dir or Path(tempfile.mkdtemp(prefix="hcl-lab-locust-"))
    agent_url = stack.url("agent")
    sampler = MetricsSampler(agent_url, interval_s=sample_interval_s).start()
    try:
        load = _start_locust(
            agent_url,
            scenario=scenario,
            users=users,
            mix=mix,
            think_time=think_time,
            seed=seed,
            out_dir=out,
            guest_prefix=f"lab-{uuid.uuid4().hex[:8]}",
        )
        t0 = time.time()  # Locust's users start now; its own start-up is not part of the run
        try:
            time.sleep(run_s)
        finally:
            samples = load.stop()
    finally:
        sampler.stop()
    timeline = sampler.frame()
    timeline["t"] = timeline["t"] - t0
    rows = [(s.at, s.status, s.latency_s, s.degraded, s.intent) for s in samples]
    requests = requests_frame(rows, t0, (t0 + run_s, t0 + run_s))
    requests["phase"] = "load"
    info = {"label": label or mix, "mix": mix, "users": users, "run_s": run_s, **(settings or {})}
    if out_dir is None:
        shutil.rmtree(out, ignore_errors=True)
    kept = load.out_base if out_dir is not None else None
    return Traffic(str(info["label"]), t0, timeline, requests, kept, info)


@dataclass
class Sweep:
    """Several traffic runs that differ in one setting, and their summary table."""

    parameter: str
    runs: list[Traffic]

    @property
    def table(self) -> pd.DataFrame:
        return pd.DataFrame([r.summary() for r in self.runs]).set_index("label")

    def run(self, label: str) -> Traffic:
        """The point labelled ``label`` (a mix name, or "TTL 15 s")."""
        for r in self.runs:
            if r.label == label:
                return r
        raise LabError(
            f"no point {label!r} in the {self.parameter} sweep: "
            + ", ".join(r.label for r in self.runs)
        )


def ttl_sweep(
    stack: StackState,
    ttls_s: Sequence[int] = (2, 15, 300),
    *,
    run_s: float = 20.0,
    users: int = 10,
    mix: str = "default",
    think_time: str = "0.2,1",
    progress: Callable[[str], None] = print,
) -> Sweep:
    """One cold-cache traffic run per availability TTL, each against a throwaway agent."""
    runs = []
    for ttl in ttls_s:
        if int(ttl) < 1:
            raise LabError(f"a cache TTL must be at least 1 s, got {ttl}")
        with temporary_agent(stack, {TTL_ENV: str(int(ttl))}) as variant:
            progress(f"TTL {ttl} s: {users} guests for {run_s:g} s against {variant.url('agent')}")
            runs.append(
                guest_traffic(
                    variant,
                    run_s=run_s,
                    users=users,
                    mix=mix,
                    think_time=think_time,
                    label=f"TTL {ttl} s",
                    settings={"ttl_s": int(ttl)},
                )
            )
    return Sweep("ttl_s", runs)


def mix_sweep(
    stack: StackState,
    mixes: Sequence[str] = ("availability", "default", "browsing"),
    *,
    run_s: float = 20.0,
    users: int = 10,
    think_time: str = "0.2,1",
    progress: Callable[[str], None] = print,
) -> Sweep:
    """One cold-cache traffic run per conversation mix, against the stack's agent."""
    runs = []
    for mix in mixes:
        progress(f"mix {mix}: {users} guests for {run_s:g} s")
        runs.append(
            guest_traffic(
                stack, run_s=run_s, users=users, mix=mix, think_time=think_time, label=mix
            )
        )
    return Sweep("mix", runs)


def run_under_load(
    name: str,
    stack: StackState,
    *,
    out_dir: Path | None = None,
    users: int = 8,
    scenario: str = "steady",
    think_time: str = "0.2,1",
    progress: Callable[[str], None] = print,
    **overrides: Any,
) -> Run:
    """Run experiment ``name`` with Locust (not the runner's light load) as its traffic.

    The verdicts are judged again on Locust's API requests; audit rows are matched to
    them by the guest id prefix Locust was given. Locust's files are kept in ``out_dir``
    when given.
    """
    from chaos.experiment.expectations import Evidence, evaluate
    from chaos.experiment.runner import figures, run_experiment
    from chaos.lab.runs import audit_count, experiment, with_overrides

    exp = with_overrides(experiment(name), load=False, **overrides)
    prefix = f"lab-{uuid.uuid4().hex[:10]}"
    out = out_dir or Path(tempfile.mkdtemp(prefix="hcl-lab-locust-"))
    load = _start_locust(
        stack.url("agent"),
        scenario=scenario,
        users=users,
        mix="default",
        think_time=think_time,
        seed=7,
        out_dir=out,
        guest_prefix=prefix,
    )
    progress(f"Locust {scenario}: {users} guests (prefix {prefix})")
    try:
        journal = run_experiment(exp, stack, progress=progress, sample_interval_s=0.25)
    finally:
        samples = load.stop()
    journal["load"] = [
        [s.at, s.status, round(s.latency_s, 5), s.degraded, s.intent] for s in samples
    ]
    counts = audit_count(stack, prefix)
    if journal["status"] in ("passed", "failed"):
        timeline = pd.DataFrame(journal["timeline"], columns=["t", "metric", "labels", "value"])
        start, end = journal["fault_window"]
        evidence = Evidence(
            timeline=timeline,
            samples=samples,
            fault_start=start,
            fault_end=end,
            audit_rows=counts["audit_rows"],
            audit_distinct=counts["audit_distinct"],
        )
        verdicts = [evaluate(e, evidence) for e in exp.expectations]
        journal["expectations"] = [v.as_dict() for v in verdicts]
        journal["figures"] = figures(evidence)
        after_ok = all(p["ok"] for p in journal["steady_state"]["after"])
        rollback_ok = all(r["ok"] for r in journal["rollbacks"])
        journal["status"] = (
            "passed" if all(v.passed for v in verdicts) and after_ok and rollback_ok else "failed"
        )
    result = from_journal(journal, agent="stack")
    if out_dir is None:
        shutil.rmtree(out, ignore_errors=True)
    result.notes.update({**counts, "users": users, "locust": str(load.out_base) if out_dir else ""})
    progress(f"{exp.name} under Locust: {result.status.upper()}, {len(samples)} API requests")
    return result
