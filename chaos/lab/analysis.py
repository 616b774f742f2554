"""Tables a notebook shows next to its charts: per latency step, the audit ledger, the
agent's lab profile, the PMS cache over time.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from agent.settings import AgentSettings
from chaos.figures.runs import window_ratio
from chaos.lab.errors import LabError
from chaos.lab.load import Traffic
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


def step_table(r: Run) -> pd.DataFrame:
    """Per latency step: replies, their latency, degraded share and session-save retries.

    ``exhausted_saves`` is a lower bound on the saves that ran out of retries: a save
    that recovered on a retry failed at most ``retries - 1`` times before it.
    """
    steps = r.notes.get("steps_ms")
    if not steps:
        raise LabError("step_table needs a run from latency_steps()")
    budget = int(agent_profile()["session_save_retries"])
    rows = []
    for ms, (start, end) in zip(steps, r.fault_windows, strict=True):
        req = r.requests[(r.requests["t"] >= start) & (r.requests["t"] < end)]
        lat = req["latency_s"].to_numpy(dtype=float)

        def grew(metric: str, start: float = start, end: float = end, **labels: str) -> float:
            return r.grew(metric, start, end, **labels) or 0.0

        fails = grew("retry_attempts_total", operation="session.save", outcome="failure")
        oks = grew("retry_attempts_total", operation="session.save", outcome="success")
        messages = grew("orchestrator_messages_total")
        retried = grew("session_save_retries_total")
        exhausted = max(0, math.ceil((fails - (budget - 1) * oks) / budget)) if fails else 0
        rows.append(
            {
                "latency_ms": ms,
                "replies": len(req),
                "p50_s": float(np.percentile(lat, 50)) if len(lat) else np.nan,
                "p95_s": float(np.percentile(lat, 95)) if len(lat) else np.nan,
                "degraded_share": float(req["degraded"].mean()) if len(req) else np.nan,
                "errors_5xx": int(((req["status"] >= 500) | (req["status"] == 0)).sum()),
                "save_retries": retried,
                "failed_retries": fails,
                "recovered_saves": oks,
                "retries_per_message": retried / messages if messages else np.nan,
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
    failed = r.increase("retry_attempts_total", operation="session.save", outcome="failure")
    if failed.empty or not len(failed.columns):
        return None
    total = failed.sum(axis=1)
    hit = total[total >= budget]
    return float(hit.index[0]) if len(hit) else None


def audit_ledger(r: Run) -> pd.DataFrame:
    """Where the run's audit events went, and whether PostgreSQL holds each message once."""
    audit = r.journal.audit or {}
    pending = r.series("audit_fallback_pending")

    def counted(metric: str, **labels: str) -> float | None:
        return r.journal.timeline.increase(metric, **labels)

    rows = {
        "guest messages acknowledged (2xx)": audit.get("acknowledged"),
        "their message ids found in PostgreSQL": audit.get("present"),
        "lost (acknowledged, not in PostgreSQL)": len(audit.get("lost") or []) if audit else None,
        "duplicated (more than one row)": len(audit.get("duplicated") or {}) if audit else None,
        "events written directly": counted("audit_events_total", outcome="written"),
        "events sent to the fallback file": counted("audit_fallback_writes_total"),
        "events replayed from the fallback": counted("audit_events_total", outcome="replayed"),
        "peak pending in the fallback": float(pending.max()) if len(pending) else np.nan,
        "pending at the end": float(pending.iloc[-1]) if len(pending) else np.nan,
    }
    return pd.DataFrame({"value": rows})


def drained_after_s(r: Run) -> float | None:
    """Seconds after the fault ended when the fallback was empty for good, or None."""
    pending = r.series("audit_fallback_pending")
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
        hits, misses = t.hit_counts(kind)
        columns[kind or "all"] = window_ratio(hits, misses, window_s)
    hits, misses = t.hit_counts()
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
