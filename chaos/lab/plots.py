"""Charts of experiment runs (``Run``): latency steps, retries, breakers, fallback, phases.

Every chart puts time on the x axis in seconds since the first fault start and shades the
faults. Counters are drawn as their increase since the run began.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from chaos.lab.analysis import agent_profile, drained_after_s, first_budget_exceeded, step_table
from chaos.lab.figure import STATE_COLOURS, LabFigure, finish, new_figure, shade
from chaos.lab.metrics import gauge, increase
from chaos.lab.runs import Run
from chaos.report.charts import OUTCOME_COLOURS, rolling_quantile

STATE_LEVEL = {"closed": 0, "open": 1, "half-open": 2}  # the gauge's encoding


def _windows(r: Run) -> list[tuple[float, float]]:
    return [(w.start_s, w.end_s) for w in r.fault_windows]


def _step_labels(ax: Axes, r: Run) -> None:
    """Write each latency step's value at the top of its window."""
    steps = r.notes.get("steps_ms") or []
    for ms, w in zip(steps, r.fault_windows, strict=False):
        ax.text(
            (w.start_s + w.end_s) / 2,
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
    for i, w in enumerate(r.fault_windows):
        ax.axvspan(
            w.start_s,
            w.end_s,
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


def _requests_scatter(ax: Axes, r: Run, rolling: bool = True) -> None:
    req = r.requests
    for name, colour in OUTCOME_COLOURS.items():
        part = req[req["outcome"] == name]
        if len(part):
            ax.scatter(
                part["t"],
                part["latency_s"],
                s=14,
                color=colour,
                alpha=0.75,
                marker="x" if name.startswith("5xx") else "o",
                label=f"{name} ({len(part)})",
            )
    if rolling and len(req) >= 3:
        lat = pd.Series(req["latency_s"].to_numpy(dtype=float), index=req["t"].to_numpy())
        span = float(req["t"].max() - req["t"].min())
        window = min(10.0, max(2.0, round(span / 12)))
        for q, style in ((0.5, "-"), (0.95, "--")):
            ax.plot(
                lat.index,
                rolling_quantile(lat, window, q),
                ls=style,
                color="#24292f",
                lw=1.3,
                label=f"rolling p{round(q * 100)} ({window:g} s)",
            )


def plot_latency_steps(r: Run) -> LabFigure:
    """Every guest reply's latency across the latency steps, by outcome."""
    fig, (ax,) = new_figure(height=4.0)
    _step_shading(ax, r)
    _requests_scatter(ax, r, rolling=False)
    table = step_table(r)
    for i, (w, (_, row)) in enumerate(zip(r.fault_windows, table.iterrows(), strict=True)):
        for column, style in (("p50_s", "-"), ("p95_s", "--")):
            if not np.isnan(row[column]):
                ax.plot(
                    [w.start_s, w.end_s],
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
        "save retries started": (increase(r.timeline, "session_save_retries_total"), "#0969da"),
        "retries that failed": (
            increase(
                r.timeline, "retry_attempts_total", operation="session.save", outcome="failure"
            ),
            "#cf222e",
        ),
        "retries that saved": (
            increase(
                r.timeline, "retry_attempts_total", operation="session.save", outcome="success"
            ),
            "#2da44e",
        ),
        "degraded replies": (
            increase(r.timeline, "orchestrator_messages_total", status="degraded"),
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


def breaker_intervals(r: Run, breaker: str) -> list[tuple[float, float, str]]:
    """``(start, end, state)`` spans of the breaker, from its transitions (closed at start)."""
    start = float(r.timeline["t"].min()) if len(r.timeline) else 0.0
    end = float(r.timeline["t"].max()) if len(r.timeline) else 0.0
    spans, state, since = [], "closed", start
    for _, tr in r.transitions(breaker).iterrows():
        spans.append((since, float(tr["t"]), state))
        state, since = str(tr["to"]), float(tr["t"])
    spans.append((since, end, state))
    return spans


def plot_breaker(r: Run, breaker: str = "audit") -> LabFigure:
    """The breaker's state over time, with each transition marked, against the fault."""
    fig, (ax,) = new_figure(height=3.6)
    shade(ax, _windows(r))
    spans = breaker_intervals(r, breaker)
    xs, ys = [], []
    for s0, s1, state in spans:
        xs += [s0, s1]
        ys += [STATE_LEVEL[state]] * 2
        ax.broken_barh([(s0, max(s1 - s0, 0.05))], (-0.75, 0.25), color=STATE_COLOURS[state])
    ax.plot(xs, ys, color="#24292f", lw=1.8, label=f"{breaker} breaker state")
    sampled = gauge(r.timeline, "circuit_breaker_state", breaker=breaker)
    ax.scatter(
        sampled.index, sampled.to_numpy(), s=6, color="#8c959f", zorder=3, label="sampled gauge"
    )
    trs = r.transitions(breaker)
    for i, tr in trs.reset_index(drop=True).iterrows():
        level = STATE_LEVEL[str(tr["to"])]
        ax.plot([tr["t"]], [level], "o", color=STATE_COLOURS[str(tr["to"])], ms=7, zorder=4)
        ax.annotate(
            f"{tr['from']}→{tr['to']}\n+{tr['t']:.1f} s",
            (tr["t"], level),
            xytext=(6, 10 + 14 * (int(str(i)) % 2)),
            textcoords="offset points",
            fontsize=7.5,
            color="#24292f",
        )
    ax.set_yticks([-0.625, 0, 1, 2], ["state", "closed", "open", "half-open"])
    ax.set_ylim(-0.9, 2.9)
    finish(ax, f"{breaker.upper()} circuit breaker: {len(trs)} transitions", "state")
    return fig


def plot_fallback(r: Run) -> LabFigure:
    """Audit fallback writes, events pending replay and events replayed, over time."""
    fig, (ax,) = new_figure(height=3.8)
    shade(ax, _windows(r))
    pending = gauge(r.timeline, "audit_fallback_pending")
    if len(pending):
        ax.fill_between(
            pending.index, pending.to_numpy(), step="post", color="#fb8f44", alpha=0.3, lw=0
        )
        ax.step(
            pending.index,
            pending.to_numpy(),
            where="post",
            color="#bc4c00",
            lw=1.4,
            label=f"pending replay (peak {pending.max():g})",
        )
    for label, df, colour, style in (
        ("fallback writes", increase(r.timeline, "audit_fallback_writes_total"), "#0969da", "-"),
        (
            "replayed into PostgreSQL",
            increase(r.timeline, "audit_events_total", outcome="replayed"),
            "#2da44e",
            "--",
        ),
    ):
        if len(df.columns):
            total = df.sum(axis=1)
            ax.step(
                total.index,
                total.to_numpy(),
                where="post",
                color=colour,
                ls=style,
                lw=2,
                label=f"{label} ({total.iloc[-1]:g}, cumulative)",
            )
    drained = drained_after_s(r)
    if drained is not None and len(pending) and pending.max() > 0:
        at = r.fault_end_s + drained
        ax.axvline(at, color="#2da44e", ls=":", lw=1.4, label=f"drained {drained:.1f} s after")
    ax.set_ylim(bottom=-0.5)
    finish(ax, "Audit fallback: writes during the outage, replay after it", "events")
    return fig


def plot_latency(r: Run, title: str = "Guest reply latency") -> LabFigure:
    """Each guest request's latency by outcome, with rolling p50 and p95."""
    fig, (ax,) = new_figure(height=3.8)
    shade(ax, _windows(r))
    _requests_scatter(ax, r)
    positive = r.requests["latency_s"][r.requests["latency_s"] > 0]
    if len(positive) and positive.max() / positive.min() > 100:
        ax.set_yscale("log")  # a few slow replies next to millisecond ones flatten the rest
    else:
        ax.set_ylim(bottom=0)
    finish(ax, title, "latency (s)")
    return fig


def plot_phases(r: Run) -> LabFigure:
    """Before / during / after the fault: error ratio, degraded share, p50 and p95 latency."""
    table = r.phases()
    fig, (err, lat) = new_figure(1, 2, height=3.6)
    x = np.arange(len(table))
    err.bar(
        x - 0.2,
        table["error_ratio"].fillna(0) * 100,
        0.4,
        color="#cf222e",
        label="5xx or no answer (%)",
    )
    err.bar(
        x + 0.2,
        table["degraded_ratio"].fillna(0) * 100,
        0.4,
        color="#d4a72c",
        label="degraded replies (%)",
    )
    for i, (n, errors) in enumerate(zip(table["requests"], table["errors"], strict=True)):
        err.text(
            i, 0.5, f"n={n}\n{errors} failed", ha="center", va="bottom", fontsize=8, color="#57606a"
        )
    err.set_xticks(x, list(table.index))
    err.set_ylim(
        0,
        max(
            10.0,
            float(np.nanmax(table[["error_ratio", "degraded_ratio"]].to_numpy(dtype=float) * 100))
            * 1.2
            + 1,
        ),
    )
    finish(err, "Errors and degraded replies by phase", "% of guest requests", xlabel="phase")
    lat.bar(x - 0.2, table["p50_s"] * 1000, 0.4, color="#57606a", label="p50")
    lat.bar(x + 0.2, table["p95_s"] * 1000, 0.4, color="#24292f", label="p95")
    lat.set_xticks(x, list(table.index))
    finish(lat, "Reply latency by phase", "latency (ms)", xlabel="phase")
    return fig


def plot_stale_cache(r: Run) -> LabFigure:
    """PMS cache during the outage: hits, misses and stale answers served (cumulative)."""
    fig, (ax,) = new_figure(height=3.8)
    shade(ax, _windows(r))
    for label, df, colour in (
        ("cache hits", increase(r.timeline, "pms_cache_hits_total"), "#2da44e"),
        ("cache misses", increase(r.timeline, "pms_cache_misses_total"), "#8250df"),
        ("stale answers served", increase(r.timeline, "pms_cache_stale_served_total"), "#d4a72c"),
    ):
        if len(df.columns):
            total = df.sum(axis=1)
            ax.step(
                total.index,
                total.to_numpy(),
                where="post",
                lw=2,
                color=colour,
                label=f"{label} ({total.iloc[-1]:g})",
            )
    ax.set_ylim(bottom=-0.5)
    finish(ax, "PMS cache: stale copies answer while the PMS is down", "lookups (cumulative)")
    return fig
