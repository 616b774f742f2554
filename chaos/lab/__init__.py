"""The notebook-facing API: one call per notebook cell (``from chaos import lab``).

Discover the running stack, run experiments and Locust traffic against it, turn what
happened into tables and matplotlib figures, and check the expectations (each check
raises ``AssertionError`` when it does not hold). Notebooks define no functions of
their own; everything they call lives here.
"""

from __future__ import annotations

from chaos.lab.analysis import (
    agent_profile,
    audit_ledger,
    cache_summary,
    first_budget_exceeded,
    hit_timeline,
    step_table,
    time_to_target,
)
from chaos.lab.checks import (
    check_breaker_cycle,
    check_budget_exceeded_above_timeout,
    check_drained,
    check_enough_lookups,
    check_error_ratio,
    check_fallback_used,
    check_hit_ratio,
    check_mix_effect,
    check_no_5xx,
    check_no_lost_events,
    check_no_retries_below_timeout,
    check_panels_have_data,
    check_queries_run,
    check_stale_served,
    check_ttl_effect,
)
from chaos.lab.load import (
    MIXES,
    Sweep,
    Traffic,
    cold_cache,
    guest_traffic,
    mix_sweep,
    run_under_load,
    ttl_sweep,
)
from chaos.lab.plots import (
    plot_breaker,
    plot_fallback,
    plot_latency,
    plot_latency_steps,
    plot_phases,
    plot_retry_budget,
    plot_save_retries,
    plot_stale_cache,
)
from chaos.lab.plots_prom import plot_dashboard
from chaos.lab.plots_traffic import plot_hit_ratio, plot_sweep
from chaos.lab.prom import PanelResults, dashboard_queries, prom_range, query_panels
from chaos.lab.runs import Run, latency_steps, open_run, run
from chaos.lab.session import stack, status

__all__ = [
    "MIXES", "PanelResults", "Run", "Sweep", "Traffic", "agent_profile", "audit_ledger",
    "cache_summary", "check_breaker_cycle", "check_budget_exceeded_above_timeout",
    "check_drained", "check_enough_lookups", "check_error_ratio", "check_fallback_used",
    "check_hit_ratio", "check_mix_effect", "check_no_5xx", "check_no_lost_events",
    "check_no_retries_below_timeout", "check_panels_have_data", "check_queries_run",
    "check_stale_served", "check_ttl_effect", "cold_cache", "dashboard_queries",
    "first_budget_exceeded", "guest_traffic", "hit_timeline", "latency_steps",
    "mix_sweep", "open_run", "plot_breaker", "plot_dashboard", "plot_fallback", "plot_hit_ratio",
    "plot_latency", "plot_latency_steps", "plot_phases", "plot_retry_budget",
    "plot_save_retries", "plot_stale_cache", "plot_sweep", "prom_range", "query_panels", "run",
    "run_under_load", "stack", "status", "step_table", "time_to_target", "ttl_sweep",
]  # fmt: skip
