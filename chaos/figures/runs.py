"""Charts of one experiment run, drawn from its journal: the HTML report and the
notebooks show these same figures.

Each returns a ``LabFigure``, or ``Skipped`` with the reason when the journal lacks
the data. Counters are drawn as their increase since the first reading
(``Timeline.increases``: resets and late labelled children handled there, once).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from chaos.figures.base import (
    OUTCOME_COLOURS,
    STATE_COLOURS,
    STATE_LEVEL,
    LabFigure,
    Skipped,
    fault_windows,
    finish,
    floor_at_zero,
    new_figure,
    phase_table,
    relative,
    requests_frame,
    rolling_quantile,
    shade,
)
from chaos.journal import Journal
from chaos.metrics import STATE_NAMES

DEFAULT_HIT_RATE_TARGET = 0.7


def _window_s(journal: Journal) -> float:
    """Rolling window for rates and percentiles: about a tenth of the run, 3 to 30 s."""
    span = (journal.ended_at or journal.started_at) - journal.started_at
    return float(min(30.0, max(3.0, round(span / 10.0))))


def increase(journal: Journal, metric: str, by: str | None = None, **labels: str) -> pd.DataFrame:
    """A counter's increase since the first reading, one column per value of ``by``."""
    groups = journal.timeline.increases(metric, by, **labels)
    t0 = journal.origin
    return pd.DataFrame({name: relative(points, t0) for name, points in groups.items()})


def breaker_chart(journal: Journal, breaker: str | None = None) -> LabFigure | Skipped:
    """Breaker state over time (each breaker, or one with its transitions marked)."""
    t0 = journal.origin
    names = [breaker] if breaker else ["pms", "audit"]
    states = {b: journal.timeline.gauge("circuit_breaker_state", breaker=b) for b in names}
    if not any(states.values()):
        return Skipped("no circuit_breaker_state readings in the journal")
    fig, (ax,) = new_figure(height=3.6)
    shade(ax, fault_windows(journal))
    for i, (name, points) in enumerate(states.items()):
        s = relative(points, t0)
        # A small vertical offset keeps breakers that share a state visible side by side.
        offset = 0.0 if breaker else (i - (len(names) - 1) / 2) * 0.05
        ax.step(s.index, s.to_numpy() + offset, where="post", lw=1.8, label=f"{name} breaker")
    marked = journal.timeline.transitions(breaker) if breaker else []
    for i, tr in enumerate(marked):
        at, level = tr.latest - t0, STATE_LEVEL[tr.target]
        ax.plot([at], [level], "o", color=STATE_COLOURS[tr.target], ms=7, zorder=4)
        ax.annotate(
            f"{tr.pair}\n+{at:.1f} s",
            (at, level),
            xytext=(6, 10 + 14 * (i % 2)),
            textcoords="offset points",
            fontsize=7.5,
        )
    ax.set_yticks(range(len(STATE_NAMES)), [STATE_NAMES[i] for i in range(len(STATE_NAMES))])
    ax.set_ylim(-0.4, len(STATE_NAMES) - 0.4)
    title = f"{breaker} breaker: {len(marked)} transitions" if breaker else "Breaker state"
    finish(ax, title, "state")
    return fig


def retries_chart(journal: Journal) -> LabFigure | Skipped:
    """Cumulative retries per operation, and session save retries."""
    per_op = increase(journal, "retry_attempts_total", by="operation")
    saves = increase(journal, "session_save_retries_total")
    if per_op.empty and saves.empty:
        return Skipped("no retry_attempts_total or session_save_retries_total readings")
    fig, (ax,) = new_figure(height=3.4)
    shade(ax, fault_windows(journal))
    for name in sorted(per_op.columns):
        ax.step(per_op.index, per_op[name], where="post", lw=1.8, label=f"retries: {name}")
    if not saves.empty:
        total = saves.iloc[:, 0]
        ax.step(total.index, total, where="post", lw=1.8, ls="--", label="session save retries")
    floor_at_zero(ax)
    finish(ax, "Retries (cumulative increase)", "retries")
    return fig


def fallback_chart(journal: Journal) -> LabFigure | Skipped:
    """Audit fallback writes, events pending replay and events replayed, over time."""
    pending = relative(journal.timeline.gauge("audit_fallback_pending"), journal.origin)
    writes = increase(journal, "audit_fallback_writes_total")
    replayed = increase(journal, "audit_events_total", outcome="replayed")
    if pending.empty and writes.empty:
        return Skipped("no audit_fallback_pending or audit_fallback_writes_total readings")
    fig, (ax,) = new_figure(height=3.6)
    shade(ax, fault_windows(journal))
    if len(pending):
        # Filled, so the writes line drawn over it stays visible where the two coincide.
        ax.fill_between(pending.index, pending.to_numpy(), step="post", color="#fb8f44", alpha=0.3)
        ax.step(
            pending.index,
            pending,
            where="post",
            color="#bc4c00",
            lw=1.4,
            label=f"pending replay (peak {pending.max():g})",
        )
    step_totals(
        ax,
        {
            "fallback writes": (writes, "#0969da", "-"),
            "replayed into PostgreSQL": (replayed, "#2da44e", "--"),
        },
        ", cumulative",
    )
    floor_at_zero(ax)
    finish(ax, "Audit fallback: writes during the outage, replay after it", "events")
    return fig


def scatter_outcomes(ax: Axes, req: pd.DataFrame) -> None:
    """Each request's latency at its send time, coloured by how it ended."""
    for name, colour in OUTCOME_COLOURS.items():
        part = req[req["outcome"] == name]
        if len(part):
            ax.scatter(part["t"], part["latency_s"], s=12, color=colour, alpha=0.75,
                       marker="x" if name.startswith("5xx") else "o",
                       label=f"{name} ({len(part)})")  # fmt: skip


def step_totals(ax: Axes, series: dict[str, tuple[pd.DataFrame, str, str]], suffix: str) -> None:
    """Each counter's cumulative increase (columns summed) as a step line."""
    for label, (df, colour, style) in series.items():
        if len(df.columns):
            total = df.sum(axis=1)
            ax.step(total.index, total, where="post", color=colour, ls=style, lw=2,
                    label=f"{label} ({total.iloc[-1]:g}{suffix})")  # fmt: skip


def latency_chart(journal: Journal, title: str = "Guest reply latency") -> LabFigure | Skipped:
    """Each guest request's latency (from its intended send time) by outcome, with rolling
    p50 and p95."""
    req = requests_frame(journal)
    if req.empty:
        return Skipped("no guest requests were recorded (the experiment ran without load)")
    fig, (ax,) = new_figure(height=3.6)
    shade(ax, fault_windows(journal))
    scatter_outcomes(ax, req)
    window = _window_s(journal)
    lat = pd.Series(req["latency_s"].to_numpy(dtype=float), index=req["t"].to_numpy())
    if len(lat) >= 3:
        for q, style in ((0.5, "-"), (0.95, "--")):
            ax.plot(
                lat.index,
                rolling_quantile(lat.sort_index(), window, q),
                ls=style,
                color="#24292f",
                lw=1.3,
                label=f"rolling p{round(q * 100)} ({window:g} s)",
            )
    positive = req["latency_s"][req["latency_s"] > 0]
    if len(positive) and positive.max() / positive.min() > 100:
        ax.set_yscale("log")  # timeouts next to millisecond replies would flatten the rest
    else:
        floor_at_zero(ax)
    finish(ax, title, "latency from intended send (s)")
    return fig


def phases_chart(journal: Journal) -> LabFigure | Skipped:
    """Before / during / after the fault: failed and degraded shares, p50 and p95 latency."""
    req = requests_frame(journal)
    if req.empty:
        return Skipped("no guest requests were recorded")
    table = phase_table(req)
    fig, (err, lat) = new_figure(1, 2, height=3.4)
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
    for i, (n, failed) in enumerate(zip(table["requests"], table["errors"], strict=True)):
        err.text(i, 0.5, f"n={n}\n{failed} failed", ha="center", va="bottom", fontsize=8)
    err.set_xticks(x, list(table.index))
    top = np.nanmax(table[["error_ratio", "degraded_ratio"]].to_numpy(dtype=float) * 100)
    err.set_ylim(0, max(10.0, (0.0 if np.isnan(top) else float(top)) * 1.2 + 1))
    finish(err, "Failed and degraded replies by phase", "% of guest requests", xlabel="phase")
    lat.bar(x - 0.2, table["p50_s"] * 1000, 0.4, color="#57606a", label="p50")
    lat.bar(x + 0.2, table["p95_s"] * 1000, 0.4, color="#24292f", label="p95")
    lat.set_xticks(x, list(table.index))
    finish(lat, "Reply latency by phase", "latency (ms)", xlabel="phase")
    return fig


def hit_rate_chart(
    journal: Journal, target: float = DEFAULT_HIT_RATE_TARGET
) -> LabFigure | Skipped:
    """Rolling PMS cache hit rate from the hit and miss counter increases."""
    hits = increase(journal, "pms_cache_hits_total").sum(axis=1)
    misses = increase(journal, "pms_cache_misses_total").sum(axis=1)
    if hits.empty or misses.empty or float(hits.iloc[-1] + misses.iloc[-1]) == 0:
        return Skipped("no PMS cache lookups were read during the run")
    window = _window_s(journal)
    ratio = window_ratio(hits, misses, window)
    fig, (ax,) = new_figure(height=3.4)
    shade(ax, fault_windows(journal))
    ax.plot(
        ratio.index, ratio * 100, lw=1.8, color="#0969da", label=f"hit rate (rolling {window:g} s)"
    )
    ax.axhline(target * 100, ls="--", color="#57606a", lw=1.2, label=f"target {target:.0%}")
    ax.set_ylim(-3, 105)
    finish(ax, "PMS cache hit rate", "hit rate (%)")
    return fig


def stale_cache_chart(journal: Journal) -> LabFigure | Skipped:
    """PMS cache hits, misses and stale answers served (cumulative)."""
    series = {
        "cache hits": (increase(journal, "pms_cache_hits_total"), "#2da44e", "-"),
        "cache misses": (increase(journal, "pms_cache_misses_total"), "#8250df", "-"),
        "stale answers served": (
            increase(journal, "pms_cache_stale_served_total"),
            "#d4a72c",
            "-",
        ),
    }
    if all(df.empty for df, _, _ in series.values()):
        return Skipped("no PMS cache counters were read during the run")
    fig, (ax,) = new_figure(height=3.6)
    shade(ax, fault_windows(journal))
    step_totals(ax, series, "")
    floor_at_zero(ax)
    finish(ax, "PMS cache: stale copies answer while the PMS is down", "lookups (cumulative)")
    return fig


def window_ratio(hits: pd.Series, misses: pd.Series, window_s: float) -> pd.Series:
    """hits / (hits + misses) over the trailing ``window_s`` seconds; NaN without lookups.

    ``hits`` and ``misses`` are cumulative counts indexed by seconds.
    """
    both = pd.concat([hits.rename("h"), misses.rename("m")], axis=1).sort_index().ffill().fillna(0)
    steps = both.diff().fillna(0.0)
    steps.index = pd.to_timedelta(steps.index, unit="s")
    summed = steps.rolling(f"{window_s:g}s").sum()
    lookups = summed["h"] + summed["m"]
    ratio = summed["h"] / lookups.where(lookups > 0)
    ratio.index = both.index
    return ratio


def compare_chart(journal: Journal, index: int) -> LabFigure | Skipped:
    """Both windows of latency comparison ``index`` as ECDFs, with the shift's interval."""
    from chaos.experiment.compare import ensure_comparison, windows
    from chaos.experiment.expectations import Evidence

    entries = (journal.experiment.get("spec") or {}).get("compare") or []
    if index >= len(entries):
        return Skipped(f"the experiment has no comparison {index}")
    comparison = ensure_comparison(entries[index], f"compare[{index}]")
    if comparison.spec["metric"] != "latency":
        return Skipped("only latency comparisons are drawn as distributions")
    a, b = windows(Evidence.of(journal), comparison.spec)
    if not a or not b:
        return Skipped("a window has no request")
    verdict = next((v for v in journal.verdicts if v.expectation == comparison.describe()), None)
    fig, (ax,) = new_figure(height=3.4)
    for label, part, colour in (("without the fault", a, "#0969da"), ("with it", b, "#cf222e")):
        values = np.sort([s.latency_s * 1000 for s in part])
        ax.step(values, np.arange(1, len(values) + 1) / len(values), where="post", lw=1.8,
                color=colour, label=f"{label} (n={len(values)})")  # fmt: skip
    title = comparison.describe()
    if verdict is not None and verdict.observed.get("class") not in (None, "NODATA"):
        o = verdict.observed
        title += (
            f": {o['class']}, shift {o['estimate'] * 1000:+.1f} ms "
            f"(CI {o['low'] * 1000:+.1f} to {o['high'] * 1000:+.1f})"
        )
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    finish(ax, title, "share of requests", xlabel="latency from intended send (ms)")
    return fig


#: The report's charts, in order.
REPORT_CHARTS = (
    ("Circuit breaker state", breaker_chart),
    ("Retries", retries_chart),
    ("Audit fallback", fallback_chart),
    ("Guest reply latency", latency_chart),
    ("Replies by phase", phases_chart),
    ("PMS cache hit rate", hit_rate_chart),
)
