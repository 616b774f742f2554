"""Tables a notebook shows next to its charts: per latency step, the audit ledger, the
agent's lab profile, the PMS cache over time.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from agent.settings import AgentSettings
from chaos.lab.errors import LabError
from chaos.lab.load import Traffic
from chaos.lab.metrics import gauge, hit_counts, increase, total_increase, window_ratio
from chaos.lab.runs import Run
from chaos.stack.config import LAB_AGENT_ENV


def _nested(env: dict[str, str]) -> dict[str, Any]:
    """``AGENT_A__B_C=v`` -> ``{"a": {"b_c": "v"}}``."""
    out: dict[str, Any] = {}
    for key, value in env.items():
        parts = key.removeprefix("AGENT_").lower().split("__")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def agent_profile() -> dict[str, Any]:
    """The timings the agent runs with in the lab profile (``chaoslab up``'s default)."""
    s = AgentSettings(**_nested(LAB_AGENT_ENV))
    r = s.sessions.retry
    return {
        "redis_socket_timeout_s": s.redis.socket_timeout_s,
        "session_save_retries": r.retries,
        "session_backoff_s": [
            round(r.backoff_base_s * r.backoff_factor**i, 3) for i in range(r.retries)
        ],
        "audit_breaker_fail_max": s.audit.breaker.fail_max,
        "audit_breaker_reset_s": s.audit.breaker.reset_timeout_s,
        "audit_write_budget_s": s.audit.write_budget_s,
        "audit_replay_interval_s": s.audit.replay_interval_s,
        "pms_breaker_fail_max": s.pms.breaker.fail_max,
        "pms_breaker_reset_s": s.pms.breaker.reset_timeout_s,
        "pms_timeout_s": s.pms.timeout_s,
        "cache_availability_ttl_s": s.pms.cache_availability_ttl_s,
        "cache_room_types_ttl_s": s.pms.cache_room_types_ttl_s,
    }


def _in(df: pd.DataFrame, start: float, end: float) -> pd.DataFrame:
    return df[(df.index >= start) & (df.index < end)] if len(df) else df


def _grew(cumulative: pd.DataFrame, start: float, end: float) -> float:
    """Increase of a cumulative table (summed over columns) within ``[start, end)``."""
    if cumulative.empty or not len(cumulative.columns):
        return 0.0
    total = cumulative.sum(axis=1)
    before = total[total.index < start]
    inside = total[total.index < end]
    first = float(before.iloc[-1]) if len(before) else 0.0
    last = float(inside.iloc[-1]) if len(inside) else first
    return last - first


def step_table(r: Run) -> pd.DataFrame:
    """Per latency step: replies, their latency, degraded share and session-save retries.

    ``exhausted_saves`` is a lower bound on the saves that ran out of retries: a save
    that recovered on a retry failed at most ``retries - 1`` times before it.
    """
    steps = r.notes.get("steps_ms")
    if not steps:
        raise LabError("step_table needs a run from latency_steps()")
    budget = int(agent_profile()["session_save_retries"])
    retried = increase(r.timeline, "session_save_retries_total")
    failed = increase(
        r.timeline, "retry_attempts_total", operation="session.save", outcome="failure"
    )
    recovered = increase(
        r.timeline, "retry_attempts_total", operation="session.save", outcome="success"
    )
    handled = increase(r.timeline, "orchestrator_messages_total")
    rows = []
    for ms, w in zip(steps, r.fault_windows, strict=True):
        req = r.requests[(r.requests["t"] >= w.start_s) & (r.requests["t"] < w.end_s)]
        lat = req["latency_s"].to_numpy(dtype=float)
        fails, oks = _grew(failed, w.start_s, w.end_s), _grew(recovered, w.start_s, w.end_s)
        messages = _grew(handled, w.start_s, w.end_s)
        exhausted = max(0, math.ceil((fails - (budget - 1) * oks) / budget)) if fails else 0
        rows.append(
            {
                "latency_ms": ms,
                "replies": len(req),
                "p50_s": float(np.percentile(lat, 50)) if len(lat) else np.nan,
                "p95_s": float(np.percentile(lat, 95)) if len(lat) else np.nan,
                "degraded_share": float(req["degraded"].mean()) if len(req) else np.nan,
                "errors_5xx": int(((req["status"] >= 500) | (req["status"] == 0)).sum()),
                "save_retries": _grew(retried, w.start_s, w.end_s),
                "failed_retries": fails,
                "recovered_saves": oks,
                "retries_per_message": (
                    _grew(retried, w.start_s, w.end_s) / messages if messages else np.nan
                ),
                "exhausted_saves": exhausted,
            }
        )
    table = pd.DataFrame(rows).set_index("latency_ms")
    table["budget_exceeded"] = table["exhausted_saves"] > 0
    return table


def first_budget_exceeded(r: Run) -> float | None:
    """Seconds since the first fault start when a save first ran out of retries, or None.

    Read from the failed-retry counter: the moment it has grown by the retry budget.
    """
    budget = int(agent_profile()["session_save_retries"])
    failed = increase(
        r.timeline, "retry_attempts_total", operation="session.save", outcome="failure"
    )
    if failed.empty or not len(failed.columns):
        return None
    total = failed.sum(axis=1)
    hit = total[total >= budget]
    return float(hit.index[0]) if len(hit) else None


def audit_ledger(r: Run) -> pd.DataFrame:
    """Where the run's audit events went, and whether PostgreSQL holds one row per message."""
    accepted = int(((r.requests["status"] >= 200) & (r.requests["status"] < 300)).sum())
    pending = gauge(r.timeline, "audit_fallback_pending")
    rows = {
        "guest messages accepted (2xx)": accepted,
        "audit rows in PostgreSQL for them": r.notes.get("audit_rows"),
        "distinct message ids among those rows": r.notes.get("audit_distinct"),
        "events written directly": total_increase(
            r.timeline, "audit_events_total", outcome="written"
        ),
        "events sent to the fallback file": total_increase(
            r.timeline, "audit_fallback_writes_total"
        ),
        "events replayed from the fallback": total_increase(
            r.timeline, "audit_events_total", outcome="replayed"
        ),
        "peak pending in the fallback": float(pending.max()) if len(pending) else np.nan,
        "pending at the end": float(pending.iloc[-1]) if len(pending) else np.nan,
    }
    return pd.DataFrame({"value": rows})


def drained_after_s(r: Run) -> float | None:
    """Seconds after the fault ended when the fallback was empty for good, or None."""
    pending = gauge(r.timeline, "audit_fallback_pending")
    if pending.empty or pending.iloc[-1] != 0:
        return None
    nonzero = pending[pending != 0]
    if nonzero.empty:
        return 0.0
    zero_after = pending[(pending.index > nonzero.index[-1])]
    return max(0.0, float(zero_after.index[0]) - r.fault_end_s)


def hit_timeline(t: Traffic, window_s: float = 5.0) -> pd.DataFrame:
    """Rolling PMS cache hit ratio over time: overall and per kind, in ``window_s`` windows."""
    columns = {}
    for kind in (None, "availability", "room_types"):
        hits, misses = hit_counts(t.timeline, kind)
        columns[kind or "all"] = window_ratio(hits, misses, window_s)
    hits, misses = hit_counts(t.timeline)
    columns["cumulative"] = (hits / (hits + misses)).where(hits + misses > 0)
    return pd.DataFrame(columns)


def time_to_target(t: Traffic, target: float = 0.7, window_s: float = 5.0) -> float | None:
    """Seconds into the run when the rolling hit ratio first reached ``target``, or None."""
    ratio = hit_timeline(t, window_s)["all"].dropna()
    reached = ratio[ratio >= target]
    return float(reached.index[0]) if len(reached) else None


def cache_summary(t: Traffic, target: float = 0.7, window_s: float = 5.0) -> pd.DataFrame:
    """Headline figures of a traffic run: lookups, hit ratios, time to the target."""
    half = float(t.settings.get("run_s", 0)) / 2
    rows = {
        "guest requests": len(t.requests),
        "5xx or no answer": int(
            ((t.requests["status"] >= 500) | (t.requests["status"] == 0)).sum()
        ),
        "PMS cache lookups": t.lookups(),
        "hit ratio, whole run": t.hit_ratio(),
        "hit ratio, second half": t.hit_ratio(after_s=half),
        "availability hit ratio": t.hit_ratio("availability"),
        "room types hit ratio": t.hit_ratio("room_types"),
        f"seconds to reach {target:.0%} ({window_s:g} s window)": time_to_target(
            t, target, window_s
        ),
    }
    return pd.DataFrame({"value": rows})
