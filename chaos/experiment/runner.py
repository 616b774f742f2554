"""``run_experiment``: steady state -> method (faults on a schedule, under load) ->
rollbacks (always) -> steady state -> verdicts -> journal.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psycopg

from chaos import __name__ as _pkg
from chaos.exceptions import ChaosError, ExperimentAborted
from chaos.experiment.expectations import Evidence, evaluate
from chaos.experiment.model import Experiment
from chaos.experiment.probes import ProbeResult, run_probe
from chaos.faults import inject, verify_clean
from chaos.observe import MetricsSampler
from chaos.stack.state import StackState
from chaos.toxiproxy import ToxiproxyClient
from chaos.traffic import BackgroundLoad

if TYPE_CHECKING:
    from chaos.load.runner import LocustLoad

Progress = Callable[[str], None]
JOURNAL_VERSION = 1


def _probes(
    exp: Experiment, phase: str, agent_url: str, *, safety_only: bool = False
) -> list[ProbeResult]:
    return [
        run_probe(p, phase, agent_url)
        for p in exp.steady_state
        if phase in p.when and (p.safety or not safety_only)
    ]


def count_audit_rows(dsn: str, guest_prefix: str) -> tuple[int, int]:
    """Message audit rows of this run's guests, and how many distinct message ids they hold."""
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT payload->>'message_id') FROM audit_logs "
            "WHERE event_type = 'message' AND guest_id LIKE %s",
            (guest_prefix + "-%",),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _run_method(
    exp: Experiment,
    client: ToxiproxyClient,
    sampler: MetricsSampler,
    agent_url: str,
    during: list[ProbeResult],
    applied: list[dict[str, Any]],
    progress: Progress,
) -> tuple[float, float]:
    """Apply every fault on its schedule; returns the wall times of first start and last end."""
    began = time.time()
    events = sorted(
        [(s.start_s, "start", i) for i, s in enumerate(exp.method)]
        + [(s.end_s, "end", i) for i, s in enumerate(exp.method)],
        key=lambda e: (e[0], e[1] == "start"),
    )
    active: dict[int, contextlib.ExitStack] = {}
    next_probe = time.monotonic()
    try:
        for offset, what, i in events:
            while (wait := began + offset - time.time()) > 0:
                if time.monotonic() >= next_probe:
                    results = _probes(exp, "during", agent_url)
                    during.extend(results)
                    failed = [
                        r
                        for r in results
                        if not r.ok
                        and next(p for p in exp.steady_state if p.name == r.probe).safety
                    ]
                    if failed:
                        raise ExperimentAborted(
                            f"safety probe {failed[0].probe} failed: {failed[0].detail}"
                        )
                    next_probe = time.monotonic() + 1.0
                time.sleep(min(wait, 0.2))
            step = exp.method[i]
            if what == "start":
                stack = contextlib.ExitStack()
                names = stack.enter_context(inject(client, step.fault))
                active[i] = stack
                record = {
                    "fault": step.fault.describe(),
                    "proxy": step.fault.proxy,
                    "type": step.fault.type,
                    "started_at": time.time(),
                    "ended_at": None,
                    "toxics": list(names),
                }
                applied.append(record)
                sampler.mark(f"start {step.fault.describe()}")
                progress(f"    +{offset:5.1f} s  inject {step.fault.describe()}")
            else:
                active.pop(i).close()
                next(
                    r
                    for r in reversed(applied)
                    if r["fault"] == step.fault.describe() and r["ended_at"] is None
                )["ended_at"] = time.time()
                sampler.mark(f"stop {step.fault.describe()}")
                progress(f"    +{offset:5.1f} s  remove {step.fault.describe()}")
    finally:
        # Rollback: leave no fault behind, whatever happened above (Ctrl-C included).
        for stack in active.values():
            stack.close()
        for record in applied:
            record["ended_at"] = record["ended_at"] or time.time()
    first = min(r["started_at"] for r in applied)
    last = max(r["ended_at"] for r in applied)
    return first, last


def run_experiment(
    exp: Experiment,
    state: StackState,
    *,
    progress: Progress = print,
    sample_interval_s: float = 0.5,
) -> dict[str, Any]:
    """Run one experiment against a running stack and return its journal."""
    agent_url = state.url("agent")
    run_id = uuid.uuid4().hex[:12]
    guest_prefix = f"exp-{run_id}"
    journal: dict[str, Any] = {
        "journal_version": JOURNAL_VERSION,
        "generator": _pkg,
        "run_id": run_id,
        "experiment": {
            "name": exp.name,
            "title": exp.title,
            "purpose": exp.purpose,
            "path": exp.path,
            "spec": exp.raw,
        },
        "stack": state.urls,
        "started_at": time.time(),
        "status": "error",
        "steady_state": {"before": [], "during": [], "after": []},
        "method": [],
        "rollbacks": [],
        "expectations": [],
        "figures": {},
        "marks": [],
        "timeline": [],
        "load": [],
        "error": None,
    }
    client = ToxiproxyClient(state.url("proxy_api"))
    sampler = MetricsSampler(
        agent_url, interval_s=sample_interval_s, prometheus_url=state.urls.get("prometheus")
    )
    load: BackgroundLoad | LocustLoad | None = None
    during: list[ProbeResult] = []
    fault_start = fault_end = time.time()
    try:
        dirty = verify_clean(client)
        if dirty:
            raise ChaosError(f"proxy not clean before the run: {'; '.join(dirty)}")
        before = _probes(exp, "before", agent_url)
        journal["steady_state"]["before"] = [r.as_dict() for r in before]
        if not all(r.ok for r in before):
            journal["status"] = "failed"
            journal["error"] = "steady state not met before the method: " + "; ".join(
                r.detail for r in before if not r.ok
            )
            return journal
        sampler.start()
        if exp.load is not None and exp.load.locust:
            from chaos.load.runner import LocustLoad

            progress(f"  background load: Locust scenario {exp.load.locust}")
            load = LocustLoad(agent_url, exp.load.locust, guest_prefix=guest_prefix).start()
        elif exp.load is not None:
            load = BackgroundLoad(
                agent_url,
                rate_per_s=exp.load.rate_per_s,
                guests=exp.load.guests,
                guest_prefix=guest_prefix,
            ).start()
        sampler.mark("baseline")
        time.sleep(exp.baseline_s)
        progress(f"  method ({exp.method_s:.0f} s of faults)")
        fault_start, fault_end = _run_method(
            exp, client, sampler, agent_url, during, journal["method"], progress
        )
        sampler.mark("settle")
        progress(f"  settling for {exp.settle_s:.0f} s")
        time.sleep(exp.settle_s)
        journal["status"] = "completed"
    except ExperimentAborted as exc:
        journal["status"] = "aborted"
        journal["error"] = str(exc)
    except KeyboardInterrupt:
        journal["status"] = "interrupted"
        journal["error"] = "interrupted by the user; faults rolled back"
        raise
    except ChaosError as exc:
        journal["status"] = "error"
        journal["error"] = str(exc)
    finally:
        samples = load.stop() if load else []
        sampler.stop()
        # A run that errored before injecting anything (proxy unreachable or already
        # dirty) added nothing to roll back; re-checking would blame it for others' toxics.
        nothing_injected = journal["status"] == "error" and not journal["method"]
        problems = [] if nothing_injected else verify_clean(client)
        journal["rollbacks"] = [
            {"action": f"remove {r['fault']}", "ok": True, "toxics": r["toxics"]}
            for r in journal["method"]
        ] + [{"action": "verify proxy clean", "ok": not problems, "detail": "; ".join(problems)}]
        client.close()
        journal["steady_state"]["during"] = [r.as_dict() for r in during]
        journal["marks"] = sampler.marks
        journal["load"] = [
            [s.at, s.status, round(s.latency_s, 5), s.degraded, s.intent] for s in samples
        ]
        timeline = sampler.frame()
        journal["timeline"] = timeline.to_dict(orient="split")["data"]
        journal["fault_window"] = [fault_start, fault_end]
        journal["ended_at"] = time.time()

    if journal["status"] != "completed":
        return journal
    after = _probes(exp, "after", agent_url)
    journal["steady_state"]["after"] = [r.as_dict() for r in after]
    rows = distinct = None
    with contextlib.suppress(psycopg.Error):
        rows, distinct = count_audit_rows(state.url("postgres"), guest_prefix)
    evidence = Evidence(
        timeline=timeline,
        samples=samples,
        fault_start=fault_start,
        fault_end=fault_end,
        audit_rows=rows,
        audit_distinct=distinct,
    )
    verdicts = [evaluate(e, evidence) for e in exp.expectations]
    journal["expectations"] = [v.as_dict() for v in verdicts]
    journal["figures"] = figures(evidence)
    rollback_ok = all(r["ok"] for r in journal["rollbacks"])
    passed = all(v.passed for v in verdicts) and all(r.ok for r in after) and rollback_ok
    journal["status"] = "passed" if passed else "failed"
    if not all(r.ok for r in after):
        journal["error"] = "steady state not restored after the method: " + "; ".join(
            r.detail for r in after if not r.ok
        )
    return journal


def figures(ev: Evidence) -> dict[str, Any]:
    """Headline numbers for the report: traffic, latency per phase, errors."""
    import numpy as np

    out: dict[str, Any] = {
        "requests": len(ev.samples),
        "errors_5xx": sum(1 for s in ev.samples if s.status >= 500 or s.status == 0),
        "degraded": sum(1 for s in ev.samples if s.degraded),
        "audit_rows": ev.audit_rows,
        "fault_duration_s": round(ev.fault_end - ev.fault_start, 2),
    }
    for phase in ("before", "during", "after"):
        lat = [s.latency_s for s in ev.phase(phase)]
        out[f"p50_{phase}_s"] = round(float(np.percentile(lat, 50)), 4) if lat else None
        out[f"p95_{phase}_s"] = round(float(np.percentile(lat, 95)), 4) if lat else None
    for metric in (
        "session_save_retries_total",
        "audit_fallback_writes_total",
        "pms_cache_stale_served_total",
        "pms_cache_hits_total",
        "pms_cache_misses_total",
    ):
        out[metric] = ev.increase(metric)
    return out
