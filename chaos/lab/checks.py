"""Final checks of the notebooks: each raises ``AssertionError`` saying what did not hold.

On success a check returns a one-line description of what it verified, so the executed
notebook records the evidence next to the verdict.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from chaos.lab.analysis import agent_profile, drained_after_s, step_table
from chaos.lab.load import Sweep, Traffic
from chaos.lab.metrics import gauge, total_increase
from chaos.lab.prom import PanelResults
from chaos.lab.runs import Run


def _fail(message: str) -> AssertionError:
    return AssertionError(message)


def _requests(r: Run | Traffic) -> pd.DataFrame:
    return r.requests


def check_no_5xx(r: Run | Traffic) -> str:
    """Every guest request got an answer below 500."""
    req = _requests(r)
    if req.empty:
        raise _fail("no guest request was recorded, so nothing shows guests were answered")
    bad = req[(req["status"] >= 500) | (req["status"] == 0)]
    if len(bad):
        first = bad.iloc[0]
        raise _fail(
            f"{len(bad)} of {len(req)} guest requests failed (5xx or no answer); "
            f"first at t={first['t']:+.1f} s with status {int(first['status'])}"
        )
    return f"ok: {len(req)} guest requests, none failed"


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
    """The breaker opened during the fault, went half-open, and closed again by the end."""
    trs = r.transitions(breaker)
    pairs = [(str(a), str(b)) for a, b in zip(trs["from"], trs["to"], strict=True)]
    seen = " -> ".join(f"{a}>{b}" for a, b in pairs) or "none"
    wanted = [("closed", "open"), ("open", "half-open"), ("half-open", "closed")]
    i = 0
    for a, b in pairs:
        if i < len(wanted) and (a, b) == wanted[i]:
            i += 1
    if i < len(wanted):
        missing = "{}>{}".format(*wanted[i])
        raise _fail(f"the {breaker} breaker never went {missing} in order (transitions: {seen})")
    opened = float(trs[(trs["from"] == "closed") & (trs["to"] == "open")]["t"].iloc[0])
    windows = r.fault_windows
    if not any(w.start_s <= opened <= w.end_s + 1.0 for w in windows):
        raise _fail(f"the {breaker} breaker opened at {opened:+.1f} s, outside every fault window")
    state = gauge(r.timeline, "circuit_breaker_state", breaker=breaker)
    if len(state) and state.iloc[-1] != 0:
        raise _fail(f"the {breaker} breaker is not closed at the end (state {state.iloc[-1]:g})")
    return f"ok: {breaker} breaker {seen}; opened {opened:+.1f} s after the fault started"


def check_fallback_used(r: Run) -> str:
    """Audit events went to the fallback file while PostgreSQL was away."""
    writes = total_increase(r.timeline, "audit_fallback_writes_total")
    if writes < 1:
        raise _fail("no audit event was written to the fallback file during the outage")
    return f"ok: {writes:g} audit events written to the fallback file"


def check_drained(r: Run, within_s: float = 20.0) -> str:
    """The fallback file is empty at the end, within ``within_s`` of the fault's end."""
    pending = gauge(r.timeline, "audit_fallback_pending")
    if pending.empty:
        raise _fail("audit_fallback_pending was never sampled")
    if pending.iloc[-1] != 0:
        raise _fail(
            f"{pending.iloc[-1]:g} audit events still pending replay at the end "
            f"(peak {pending.max():g})"
        )
    took = drained_after_s(r)
    if took is None or took > within_s:
        raise _fail(f"the fallback drained {took} s after the fault, limit {within_s:g} s")
    return f"ok: fallback drained to 0 {took:.1f} s after the fault (peak {pending.max():g})"


def check_no_lost_events(r: Run) -> str:
    """Every accepted guest message has exactly one audit row in PostgreSQL."""
    accepted = int(((r.requests["status"] >= 200) & (r.requests["status"] < 300)).sum())
    rows, distinct = r.notes.get("audit_rows"), r.notes.get("audit_distinct")
    if rows is None or distinct is None:
        raise _fail(f"could not count the run's audit rows: {r.notes.get('audit_error', '?')}")
    if accepted == 0:
        raise _fail("no guest message was accepted, so nothing proves the audit trail")
    if rows < accepted:
        raise _fail(
            f"{accepted - rows} audit events lost: {accepted} messages accepted, "
            f"only {rows} audit rows in PostgreSQL"
        )
    if rows > accepted or distinct != rows:
        raise _fail(
            f"{accepted} messages accepted but {rows} audit rows ({rows - distinct} duplicated)"
        )
    return f"ok: {accepted} messages accepted = {rows} audit rows, no duplicates"


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


def check_stale_served(r: Run, minimum: int = 1) -> str:
    """Stale PMS answers were served while the PMS was down."""
    stale = total_increase(r.timeline, "pms_cache_stale_served_total")
    if stale < minimum:
        raise _fail(f"{stale:g} stale PMS answers served, expected at least {minimum}")
    return f"ok: {stale:g} stale PMS answers served"


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
