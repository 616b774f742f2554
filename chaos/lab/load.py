"""Guest traffic from Locust (always a subprocess, through ``chaos.load.runner.LocustLoad``).

``guest_traffic`` drives a scenario against an agent while reading its ``/metrics``;
``ttl_sweep`` and ``mix_sweep`` repeat that with one thing changed (the availability
cache TTL of a throwaway agent, or which conversations the guests have), each point
from a cold cache so the points compare. ``run_under_load`` runs a catalogue experiment
with Locust as its traffic.
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

from chaos.figures.base import relative, requests_table
from chaos.lab.agents import temporary_agent
from chaos.lab.errors import LabError
from chaos.lab.runs import Run, run
from chaos.metrics import MetricsSampler, Timeline
from chaos.stack.state import StackState
from chaos.traffic import Sample

#: Conversation mixes: the Locust tasks both guest classes run (None: the scenario's own mix).
MIXES: dict[str, tuple[str, ...] | None] = {
    "default": None,
    "availability": ("availability",),
    "browsing": ("room_options", "information"),
    "booking": ("availability", "booking"),
}
# Fresh PMS cache entries only: the stale copies stay, a PMS outage still needs them.
CACHE_PATTERNS = (
    "pms:availability:*",
    "pms:index:availability:*",
    "pms:night:*",
    "pms:room_types",
)
TTL_ENV = "AGENT_PMS__CACHE_AVAILABILITY_TTL_S"


@dataclass
class Traffic:
    """One Locust run against one agent, and the agent's metrics read meanwhile."""

    label: str
    t0: float
    end: float
    timeline: Timeline
    samples: list[Sample]
    out_base: Path | None  # Locust's own files (stats, HTML), kept when out_dir was given
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def requests(self) -> pd.DataFrame:
        """Every guest request (seconds since the load started), all in phase "load"."""
        return requests_table(self.samples, self.t0, lambda _: "load")

    def hit_counts(self, kind: str | None = None) -> tuple[pd.Series, pd.Series]:
        """Cumulative PMS cache hits and misses (of one ``kind``, or all) since ``t0``."""
        labels = {"kind": kind} if kind else {}
        found = []
        for metric in ("pms_cache_hits_total", "pms_cache_misses_total"):
            groups = self.timeline.increases(metric, **labels)
            found.append(relative(next(iter(groups.values()), []), self.t0))
        return found[0], found[1]

    def hit_ratio(self, kind: str | None = None, after_s: float | None = None) -> float:
        """Hits / lookups from ``after_s`` (default: the start) to the end; NaN without any."""
        start = self.t0 + after_s if after_s is not None else None
        labels = {"kind": kind} if kind else {}
        hits = self.timeline.increase("pms_cache_hits_total", start, None, **labels)
        misses = self.timeline.increase("pms_cache_misses_total", start, None, **labels)
        if hits is None or misses is None or hits + misses == 0:
            return float("nan")
        return hits / (hits + misses)

    def lookups(self, kind: str | None = None) -> float:
        labels = {"kind": kind} if kind else {}
        hits = self.timeline.increase("pms_cache_hits_total", **labels)
        misses = self.timeline.increase("pms_cache_misses_total", **labels)
        return (hits or 0.0) + (misses or 0.0)

    def summary(self) -> dict[str, Any]:
        """The row a sweep table shows for this run."""
        return {
            **self.settings,
            "requests": len(self.samples),
            "errors": sum(1 for s in self.samples if s.failed),
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
        timeline = sampler.stop()
    info = {"label": label or mix, "mix": mix, "users": users, "run_s": run_s, **(settings or {})}
    if out_dir is None:
        shutil.rmtree(out, ignore_errors=True)
    kept = load.out_base if out_dir is not None else None
    return Traffic(str(info["label"]), t0, t0 + run_s, timeline, samples, kept, info)


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
    """Run experiment ``name`` with Locust (API and WhatsApp guests) as its traffic.

    The verdicts are judged on Locust's requests, every channel. Locust's files are kept
    in ``out_dir`` when given.
    """
    from chaos.load.runner import LocustLoad

    out = out_dir or Path(tempfile.mkdtemp(prefix="hcl-lab-locust-"))
    load = LocustLoad(
        stack.url("agent"),
        scenario,
        users=users,
        spawn_rate=users,
        out_dir=out,
        guest_prefix=f"lab-{uuid.uuid4().hex[:10]}",
        extra_args=locust_args("default", think_time, 7),
    )
    progress(f"Locust {scenario}: {users} guests")
    result = run(name, stack, load=load, progress=progress, **overrides)
    if out_dir is None:
        shutil.rmtree(out, ignore_errors=True)
    result.notes.update({"users": users, "locust": str(load.out_base) if out_dir else ""})
    return result
