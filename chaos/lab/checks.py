"""Final checks of the notebooks: each raises ``AssertionError`` saying what did not hold.

On success a check returns a one-line description of what it verified, so the executed
notebook records the evidence next to the verdict. Checks of an experiment run are the
experiment's own expectation kinds judged on the run's evidence
(``chaos.experiment.expectations``), so a notebook and ``chaoslab run`` cannot disagree;
an inconclusive judgement fails the check too.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from chaos.experiment.expectations import Evidence, ensure_expectation, evaluate
from chaos.lab.analysis import agent_profile, step_table
from chaos.lab.load import Sweep, Traffic
from chaos.lab.prom import PanelResults
from chaos.lab.runs import Run


def _fail(message: str) -> AssertionError:
    return AssertionError(message)


def _evidence(r: Run | Traffic) -> Evidence:
    if isinstance(r, Run):
        return r.evidence()
    return Evidence(r.timeline, r.samples, fault_start=r.end, fault_end=r.end, run_start=r.t0)


def _judge(r: Run | Traffic, kind: str, **spec: object) -> str:
    verdict = evaluate(ensure_expectation({kind: spec}, "check"), _evidence(r))
    if verdict.status != "passed":
        raise _fail(f"{verdict.status.upper()}: {verdict.detail}")
    return f"ok: {verdict.detail}"


def check_no_5xx(r: Run | Traffic) -> str:
    """Every guest request (every channel) got an answer below 500."""
    return _judge(r, "no_5xx")


def check_error_ratio(r: Run, max_ratio: float, phase: str | None = None) -> str:
    """The share of failed requests (5xx or no answer) stays within ``max_ratio``."""
    req = r.requests if phase is None else r.requests[r.requests["phase"] == phase]
    if req.empty:
        raise _fail(f"no guest requests {'in phase ' + phase if phase else ''}")
    ratio = float(((req["status"] >= 500) | (req["status"] == 0)).mean())
    if ratio > max_ratio:
        raise _fail(f"error ratio {ratio:.2%} {phase or 'overall'} exceeds {max_ratio:.2%}")
    return f"ok: error ratio {ratio:.2%} {phase or 'overall'} (limit {max_ratio:.2%}, n={len(req)})"


def check_breaker_cycle(r: Run, breaker: str) -> str:
    """The breaker opened after the fault began, went half-open, closed again and stayed
    closed (trials that failed while the fault lasted may reopen it in between)."""
    return _judge(
        r,
        "breaker_transitions",
        breaker=breaker,
        sequence=[
            {"from": "closed", "to": "open", "after": "fault_start"},
            {"from": "open", "to": "half-open"},
            {"from": "half-open", "to": "closed", "after": "fault_end"},
        ],
    )


def check_fallback_used(r: Run) -> str:
    """Audit events went to the fallback file while PostgreSQL was away."""
    return _judge(r, "fallback_writes", min=1)


def check_drained(r: Run, within_s: float = 20.0) -> str:
    """The fallback file is empty at the end, within ``within_s`` of the fault's end."""
    return _judge(r, "fallback_drained", within_s=within_s)


def check_no_lost_events(r: Run) -> str:
    """Every acknowledged guest message id is in PostgreSQL exactly once."""
    return _judge(r, "no_lost_audit_events")


def check_stale_served(r: Run, minimum: int = 1) -> str:
    """Stale PMS answers were served while the PMS was down."""
    return _judge(r, "stale_served", min=minimum)


def check_no_retries_below_timeout(r: Run) -> str:
    """Latency steps below the Redis socket timeout cost no session-save retry."""
    timeout_ms = float(agent_profile()["redis_socket_timeout_s"]) * 1000
    table = step_table(r)
    below = table[table.index < timeout_ms]
    if below.empty:
        raise _fail(f"no latency step below the socket timeout ({timeout_ms:g} ms) to judge")
    retried = below[below["save_retries"] > 0]
    if len(retried):
        steps = ", ".join(f"{ms} ms ({n:g})" for ms, n in retried["save_retries"].items())
        raise _fail(f"session saves were retried below the {timeout_ms:g} ms timeout: {steps}")
    return f"ok: no save retry at {', '.join(f'{ms} ms' for ms in below.index)}"


def check_budget_exceeded_above_timeout(r: Run) -> str:
    """Above the socket timeout saves run out of retries, and guests get degraded replies."""
    timeout_ms = float(agent_profile()["redis_socket_timeout_s"]) * 1000
    table = step_table(r)
    above = table[table.index >= timeout_ms]
    if above.empty:
        raise _fail(f"no latency step at or above the socket timeout ({timeout_ms:g} ms)")
    not_exceeded = above[~above["budget_exceeded"]]
    if len(not_exceeded):
        raise _fail(
            "saves did not run out of retries at "
            + ", ".join(f"{ms} ms" for ms in not_exceeded.index)
            + f" although Redis answers slower than the {timeout_ms:g} ms timeout"
        )
    if not (above["degraded_share"].fillna(0) > 0).all():
        raise _fail(
            "some step above the timeout has no degraded reply: "
            + above["degraded_share"].to_string()
        )
    return (
        f"ok: budget exceeded at {', '.join(f'{ms} ms' for ms in above.index)}, "
        "replies degraded, never failed"
    )


def check_enough_lookups(t: Traffic, minimum: int = 30) -> str:
    """The run made enough PMS cache lookups for its ratios to mean something."""
    n = t.lookups()
    if n < minimum:
        raise _fail(f"only {n:g} PMS cache lookups in {t.label}, need {minimum}")
    return f"ok: {n:g} lookups"


def check_hit_ratio(t: Traffic, minimum: float, kind: str | None = None) -> str:
    """The run's PMS cache hit ratio (of one ``kind``, or all lookups) is at least ``minimum``."""
    ratio, lookups = t.hit_ratio(kind), t.lookups(kind)
    what = f"{kind} hit ratio" if kind else "hit ratio"
    if lookups == 0 or np.isnan(ratio):
        raise _fail(f"no {kind or 'PMS cache'} lookups in {t.label}")
    if ratio < minimum:
        raise _fail(f"{what} {ratio:.1%} over {lookups:g} lookups is below {minimum:.0%}")
    return f"ok: {what} {ratio:.1%} over {lookups:g} lookups (minimum {minimum:.0%})"


def _sweep_gain(sweep: Sweep, column: str, low: str, high: str, min_gain: float) -> str:
    table = sweep.table
    for label in (low, high):
        if label not in table.index:
            raise _fail(
                f"{label!r} is not a point of the {sweep.parameter} sweep: {', '.join(table.index)}"
            )
    a, b = float(table.loc[low, column]), float(table.loc[high, column])
    if np.isnan(a) or np.isnan(b) or b < a + min_gain:
        raise _fail(
            f"{column} at {high} ({b:.1%}) is not at least {min_gain:.0%} above {low} ({a:.1%})"
        )
    return f"ok: {column} {a:.1%} at {low} -> {b:.1%} at {high}"


def check_ttl_effect(sweep: Sweep, min_gain: float = 0.05) -> str:
    """A longer availability TTL gives a higher availability hit ratio."""
    labels = list(sweep.table.sort_values("ttl_s").index)
    return _sweep_gain(sweep, "availability_hit_ratio", labels[0], labels[-1], min_gain)


def check_mix_effect(
    sweep: Sweep, low: str = "availability", high: str = "browsing", min_gain: float = 0.1
) -> str:
    """A mix of cache-friendly conversations hits more than one of fresh availability asks."""
    return _sweep_gain(sweep, "hit_ratio", low, high, min_gain)


def check_queries_run(results: PanelResults) -> str:
    """Every dashboard query ran without a PromQL or HTTP error."""
    if results.errors:
        listed = "; ".join(
            f"{d}/{p}/{ref}: {e}" for (d, p, ref), e in list(results.errors.items())[:5]
        )
        raise _fail(f"{len(results.errors)} dashboard queries failed: {listed}")
    return f"ok: {len(results.queries)} dashboard queries ran"


def check_panels_have_data(results: PanelResults, panels: Sequence[str]) -> str:
    """Each named panel (``"dashboard uid/panel title"``) returned data over the range."""
    st = results.status()
    missing = []
    for name in panels:
        uid, _, title = name.partition("/")
        rows = st[(st["dashboard"] == uid) & (st["panel"] == title)]
        if rows.empty:
            raise _fail(f"no panel {name!r} in the dashboards")
        if float(rows["points"].sum()) == 0:
            missing.append(name)
    if missing:
        raise _fail(f"{len(missing)} panels returned no data: {', '.join(missing)}")
    return f"ok: {len(panels)} panels have data"
