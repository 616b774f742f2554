"""Charts of experiment runs (``Run``) for the notebooks.

The charts of any run (breaker, fallback, latency, phases, stale cache) are the report's
own (``chaos.figures.runs``); the latency-steps charts of notebook 01 live here, on the
same figure base.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes

from chaos.figures import runs as charts
from chaos.figures.base import (
    LabFigure,
    Skipped,
    finish,
    new_figure,
)
from chaos.lab.analysis import agent_profile, first_budget_exceeded, step_table
from chaos.lab.runs import Run


def _step_labels(ax: Axes, r: Run) -> None:
    """Write each latency step's value at the top of its window."""
    steps = r.notes.get("steps_ms") or []
    for ms, (start, end) in zip(steps, r.fault_windows, strict=False):
        ax.text(
            (start + end) / 2,
            0.97,
            f"+{ms} ms",
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="top",
            fontsize=8.5,
            color="#24292f",
            bbox={"facecolor": "white", "alpha": 0.8, "lw": 0, "pad": 1.5},
        )


def _step_shading(ax: Axes, r: Run) -> None:
    n = max(1, len(r.fault_windows))
    for i, (start, end) in enumerate(r.fault_windows):
        ax.axvspan(
            start,
            end,
            color="#e5534b",
            alpha=0.06 + 0.22 * (i + 1) / n,
            lw=0,
            label="latency step (darker = slower)" if i == 0 else None,
        )


def _budget_line(ax: Axes, r: Run) -> None:
    at = first_budget_exceeded(r)
    if at is not None:
        ax.axvline(
            at,
            color="#cf222e",
            ls="--",
            lw=1.4,
            label=f"a save first ran out of retries (+{at:.1f} s)",
        )


def _requests_scatter(ax: Axes, r: Run) -> None:
    charts.scatter_outcomes(ax, r.requests)


def plot_latency_steps(r: Run) -> LabFigure:
    """Every guest reply's latency across the latency steps, by outcome."""
    fig, (ax,) = new_figure(height=4.0)
    _step_shading(ax, r)
    _requests_scatter(ax, r)
    table = step_table(r)
    for i, ((start, end), (_, row)) in enumerate(
        zip(r.fault_windows, table.iterrows(), strict=True)
    ):
        for column, style in (("p50_s", "-"), ("p95_s", "--")):
            if not np.isnan(row[column]):
                ax.plot(
                    [start, end],
                    [row[column]] * 2,
                    color="#24292f",
                    ls=style,
                    lw=1.3,
                    label=f"{column[:3]} of the step" if i == 0 else None,
                )
    _budget_line(ax, r)
    _step_labels(ax, r)
    ax.set_ylim(bottom=0)
    finish(
        ax,
        f"Guest reply latency under {r.notes.get('proxy', '')} latency steps",
        "reply latency (s)",
    )
    return fig


def plot_save_retries(r: Run) -> LabFigure:
    """Session-save retries (started, failed, recovered) and degraded replies, cumulative."""
    fig, (ax,) = new_figure(height=4.0)
    _step_shading(ax, r)
    series = {
        "save retries started": (r.increase("session_save_retries_total"), "#0969da"),
        "retries that failed": (
            r.increase("retry_attempts_total", operation="session.save", outcome="failure"),
            "#cf222e",
        ),
        "retries that saved": (
            r.increase("retry_attempts_total", operation="session.save", outcome="success"),
            "#2da44e",
        ),
        "degraded replies": (
            r.increase("orchestrator_messages_total", status="degraded"),
            "#d4a72c",
        ),
    }
    for label, (df, colour) in series.items():
        if len(df.columns):
            total = df.sum(axis=1)
            ax.step(
                total.index,
                total.to_numpy(),
                where="post",
                lw=1.8,
                color=colour,
                label=f"{label} ({total.iloc[-1]:g})",
            )
    _budget_line(ax, r)
    _step_labels(ax, r)
    ax.set_ylim(bottom=-0.2)
    finish(ax, "Session saves: retries and what became of them (cumulative)", "count")
    return fig


def plot_retry_budget(r: Run) -> LabFigure:
    """Per step: retries per message against the budget, p95 latency and degraded share."""
    table = step_table(r)
    profile = agent_profile()
    timeout_ms = float(profile["redis_socket_timeout_s"]) * 1000
    budget = int(profile["session_save_retries"])
    fig, (left, right) = new_figure(1, 2, height=3.8)
    x = table.index.to_numpy(dtype=float)
    width = max(10.0, float(np.min(np.diff(x))) * 0.35) if len(x) > 1 else 40.0
    for ax in (left, right):
        for ms, exceeded in zip(x, table["budget_exceeded"], strict=True):
            if exceeded:
                ax.axvspan(ms - width * 1.2, ms + width * 1.2, color="#cf222e", alpha=0.12, lw=0)
        ax.axvline(
            timeout_ms,
            color="#57606a",
            ls=":",
            lw=1.4,
            label=f"Redis socket timeout ({timeout_ms:g} ms)",
        )
    per_message = table["retries_per_message"].fillna(0).to_numpy(dtype=float)
    exhausted = table["exhausted_saves"].to_numpy(dtype=float)
    left.bar(x - width / 2, per_message, width, color="#0969da", label="save retries per message")
    left.bar(
        x + width / 2, exhausted, width, color="#cf222e", label="saves out of retries (at least)"
    )
    for xi, a, b in zip(x, per_message, exhausted, strict=True):
        left.text(xi - width / 2, a, f"{a:.2g}", ha="center", va="bottom", fontsize=7.5)
        left.text(xi + width / 2, b, f"{b:g}", ha="center", va="bottom", fontsize=7.5)
    left.axhline(
        budget, color="#24292f", ls="--", lw=1.2, label=f"budget: {budget} retries per save"
    )
    finish(
        left, "Retry budget per latency step (red: exceeded)", "count", xlabel="Redis latency (ms)"
    )
    right.plot(x, table["p95_s"], "o-", color="#24292f", label="p95 reply latency (s)")
    right.plot(x, table["p50_s"], "o--", color="#57606a", label="p50 reply latency (s)")
    twin = right.twinx()
    twin.plot(x, table["degraded_share"] * 100, "s-", color="#d4a72c", label="degraded replies (%)")
    twin.set_ylim(-3, 105)
    twin.set_ylabel("degraded replies (%)")
    handles = right.get_legend_handles_labels()
    extra = twin.get_legend_handles_labels()
    right.legend(
        handles[0] + extra[0], handles[1] + extra[1], fontsize=8, frameon=False, loc="upper left"
    )
    right.set_ylim(bottom=0)
    finish(
        right,
        "Reply latency and degraded share per step",
        "reply latency (s)",
        xlabel="Redis latency (ms)",
        legend=False,
    )
    return fig


def plot_breaker(r: Run, breaker: str = "audit") -> LabFigure | Skipped:
    """The breaker's state over time, each transition marked, against the fault."""
    return charts.breaker_chart(r.journal, breaker)


def plot_fallback(r: Run) -> LabFigure | Skipped:
    """Audit fallback writes, events pending replay and events replayed, over time."""
    return charts.fallback_chart(r.journal)


def plot_latency(r: Run, title: str = "Guest reply latency") -> LabFigure | Skipped:
    """Each guest request's latency by outcome, with rolling p50 and p95."""
    return charts.latency_chart(r.journal, title)


def plot_phases(r: Run) -> LabFigure | Skipped:
    """Before / during / after the fault: failed and degraded shares, p50 and p95."""
    return charts.phases_chart(r.journal)


def plot_stale_cache(r: Run) -> LabFigure | Skipped:
    """PMS cache hits, misses and stale answers served (cumulative)."""
    return charts.stale_cache_chart(r.journal)
