"""Charts of a run's journal, drawn with matplotlib's Agg canvas and embedded as PNG.

Every chart puts time on the x axis in seconds relative to the first fault start and
shades each fault of the method. A chart whose data is absent is ``Skipped`` with a reason.
Counters are drawn as their increase since the first sample, never as raw values.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

STATE_NAMES = ("closed", "open", "half-open")  # gauge encoding 0, 1, 2
FAULT_COLOUR = "#e5534b"
OUTCOME_COLOURS = {
    "ok": "#2da44e",
    "degraded": "#d4a72c",
    "4xx": "#8250df",
    "5xx / no answer": "#cf222e",
}
DEFAULT_HIT_RATE_TARGET = 0.7


@dataclass(frozen=True)
class Skipped:
    """A chart left out because the journal lacks the data it needs."""

    reason: str


@dataclass(frozen=True)
class Chart:
    """One rendered chart: a PNG, or the reason it was skipped."""

    title: str
    png: bytes | None
    note: str = ""


@dataclass(frozen=True)
class RunData:
    """The parts of a journal the charts need, with times already relative to ``origin``."""

    timeline: pd.DataFrame  # columns t (relative s), metric, labels, value
    load: pd.DataFrame  # columns t (relative s), status, latency_s, degraded, intent
    faults: list[tuple[float, float]]  # (start, end) per method entry, relative s
    hit_rate_target: float

    @property
    def span_s(self) -> float:
        times = pd.concat([self.timeline["t"], self.load["t"]])
        return float(times.max() - times.min()) if len(times) else 0.0

    @property
    def window_s(self) -> float:
        """Rolling window for rates and percentiles: about a tenth of the run, 3 to 30 s."""
        return float(min(30.0, max(3.0, round(self.span_s / 10.0))))


def origin(journal: dict[str, Any]) -> float:
    """Epoch time of the first fault start (the fault window start, or the run start)."""
    starts = [m["started_at"] for m in journal.get("method") or [] if m.get("started_at")]
    if starts:
        return float(min(starts))
    window = journal.get("fault_window") or []
    if window:
        return float(window[0])
    return float(journal.get("started_at") or 0.0)


def _hit_rate_target(journal: dict[str, Any]) -> float:
    spec = (journal.get("experiment") or {}).get("spec") or {}
    for item in spec.get("expectations") or []:
        if isinstance(item, dict) and isinstance(item.get("cache_hit_rate"), dict):
            return float(item["cache_hit_rate"].get("min", DEFAULT_HIT_RATE_TARGET))
    return DEFAULT_HIT_RATE_TARGET


def run_data(journal: dict[str, Any]) -> RunData:
    """Extract the timeline, guest requests and fault spans from a journal."""
    t0 = origin(journal)
    timeline = pd.DataFrame(
        journal.get("timeline") or [], columns=["t", "metric", "labels", "value"]
    )
    timeline["t"] = timeline["t"].astype(float) - t0
    timeline["value"] = timeline["value"].astype(float)
    timeline["labels"] = timeline["labels"].fillna("").astype(str)
    load = pd.DataFrame(
        journal.get("load") or [], columns=["t", "status", "latency_s", "degraded", "intent"]
    )
    load["t"] = load["t"].astype(float) - t0
    faults = [
        (float(m["started_at"]) - t0, float(m.get("ended_at") or m["started_at"]) - t0)
        for m in journal.get("method") or []
        if m.get("started_at")
    ]
    return RunData(timeline, load, faults, _hit_rate_target(journal))


def parse_labels(key: str) -> dict[str, str]:
    """``"k=v,k2=v2"`` (the journal's label key) back into a dict."""
    return dict(part.split("=", 1) for part in key.split(",") if "=" in part)


def _wide(run: RunData, metric: str) -> pd.DataFrame:
    """One column per label set, indexed by time; NaN where a set was not sampled."""
    rows = run.timeline[run.timeline["metric"] == metric]
    if rows.empty:
        return pd.DataFrame()
    return rows.pivot_table(index="t", columns="labels", values="value", aggfunc="last")


def counter_increase(run: RunData, metric: str, by: str | None = None) -> pd.DataFrame:
    """A counter's cumulative increase since the first sample, summed per value of label ``by``.

    A labelled counter first appears on its first increment, so a label set that shows up
    after the first sample of the timeline is counted from 0. A drop is an agent restart:
    the increase continues from the new value, as Prometheus' ``increase()`` does.
    """
    wide = _wide(run, metric)
    if wide.empty:
        return wide
    first_t = float(run.timeline["t"].min())
    columns: dict[str, pd.Series] = {}
    for key in wide.columns:
        s = wide[key].dropna()
        if key and s.index[0] > first_t:
            s = pd.concat([pd.Series([0.0], index=[first_t]), s])
        step = s.diff().fillna(0.0)
        step[step < 0] = s[step < 0]
        group = parse_labels(key).get(by, "") if by else metric
        total = step.cumsum()
        if group in columns:
            both = pd.concat([columns[group], total], axis=1).sort_index().ffill().fillna(0.0)
            columns[group] = both.sum(axis=1)
        else:
            columns[group] = total
    return pd.DataFrame(columns).sort_index().ffill().fillna(0.0)


def _new_axes(run: RunData, title: str, ylabel: str) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(9.0, 3.4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for i, (start, end) in enumerate(run.faults):
        ax.axvspan(
            start,
            end,
            color=FAULT_COLOUR,
            alpha=0.15,
            lw=0,
            label="fault window" if i == 0 else None,
        )
    ax.set_title(title, fontsize=11, loc="left")
    ax.set_xlabel("time since first fault start (s)")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    return fig, ax


def _floor_at_zero(ax: Axes) -> None:
    """Start the y axis just below 0, so series that stay at 0 are not hidden by the frame."""
    top = max(ax.get_ylim()[1], 1.0)
    ax.set_ylim(-0.03 * top, top)


def _finish(ax: Axes) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


def breaker_chart(run: RunData) -> Figure | Skipped:
    """Circuit breaker state per breaker as a step plot."""
    wide = _wide(run, "circuit_breaker_state")
    if wide.empty:
        wide = _wide(run, "audit_circuit_breaker_state").rename(columns={"": "breaker=audit"})
    if wide.empty:
        return Skipped("no circuit_breaker_state samples in the timeline")
    fig, ax = _new_axes(run, "Circuit breaker state", "state")
    keys = sorted(wide.columns)
    for i, key in enumerate(keys):
        s = wide[key].dropna()
        # A small vertical offset keeps breakers that share a state visible side by side.
        offset = (i - (len(keys) - 1) / 2) * 0.05
        ax.step(
            s.index,
            s.to_numpy() + offset,
            where="post",
            lw=1.8,
            label=parse_labels(key).get("breaker", key or "breaker"),
        )
    ax.set_yticks(range(len(STATE_NAMES)), STATE_NAMES)
    ax.set_ylim(-0.4, len(STATE_NAMES) - 0.6)
    _finish(ax)
    return fig


def retries_chart(run: RunData) -> Figure | Skipped:
    """Cumulative retries per operation, and session save retries."""
    per_op = counter_increase(run, "retry_attempts_total", by="operation")
    sessions = counter_increase(run, "session_save_retries_total")
    if per_op.empty and sessions.empty:
        return Skipped("no retry_attempts_total or session_save_retries_total samples")
    fig, ax = _new_axes(run, "Retries (cumulative increase)", "retries")
    for name in sorted(per_op.columns):
        ax.step(per_op.index, per_op[name], where="post", lw=1.8, label=f"retry: {name}")
    if not sessions.empty:
        ax.step(
            sessions.index,
            sessions.iloc[:, 0],
            where="post",
            lw=1.8,
            ls="--",
            label="session save retries",
        )
    _floor_at_zero(ax)
    _finish(ax)
    return fig


def fallback_chart(run: RunData) -> Figure | Skipped:
    """Audit fallback writes (cumulative increase) and events pending replay."""
    writes = counter_increase(run, "audit_fallback_writes_total")
    pending = _wide(run, "audit_fallback_pending")
    if writes.empty and pending.empty:
        return Skipped("no audit_fallback_writes_total or audit_fallback_pending samples")
    fig, ax = _new_axes(run, "Audit fallback", "events")
    if not pending.empty:
        s = pending.sum(axis=1, min_count=1).dropna()
        # Filled, so the writes line drawn over it stays visible where the two coincide.
        ax.fill_between(s.index, s.to_numpy(), step="post", color="#fb8f44", alpha=0.3, lw=0)
        ax.step(s.index, s, where="post", lw=1.4, color="#bc4c00", label="pending replay")
    if not writes.empty:
        ax.step(
            writes.index,
            writes.iloc[:, 0],
            where="post",
            lw=2.0,
            color="#0969da",
            label="fallback writes (cumulative)",
        )
    _floor_at_zero(ax)
    _finish(ax)
    return fig


def outcome(status: int, degraded: bool) -> str:
    """How a guest request ended: ok, degraded, 4xx, or 5xx / no answer."""
    if status >= 500 or status == 0:
        return "5xx / no answer"
    if status >= 400:
        return "4xx"
    return "degraded" if degraded else "ok"


def rolling_quantile(values: pd.Series, window_s: float, q: float) -> np.ndarray:
    """Quantile ``q`` over the trailing ``window_s`` seconds at each sample (index in s)."""
    series = pd.Series(values.to_numpy(), index=pd.to_timedelta(values.index, unit="s"))
    return series.rolling(f"{window_s:g}s", min_periods=3).quantile(q).to_numpy()


def latency_chart(run: RunData) -> Figure | Skipped:
    """Each guest request's latency coloured by outcome, with rolling p50 and p95."""
    if run.load.empty:
        return Skipped("no guest requests were recorded (the experiment ran without load)")
    load = run.load.sort_values("t")
    kinds = [
        outcome(int(s), bool(d)) for s, d in zip(load["status"], load["degraded"], strict=True)
    ]
    fig, ax = _new_axes(run, "Guest reply latency", "latency (s)")
    for name, colour in OUTCOME_COLOURS.items():
        mask = np.array([k == name for k in kinds])
        if mask.any():
            ax.scatter(
                load["t"][mask],
                load["latency_s"][mask],
                s=12,
                color=colour,
                marker="x" if name.startswith("5xx") else "o",
                alpha=0.75,
                label=f"{name} ({int(mask.sum())})",
            )
    latency = pd.Series(load["latency_s"].to_numpy(dtype=float), index=load["t"].to_numpy())
    for q, style in ((0.5, "-"), (0.95, "--")):
        ax.plot(
            latency.index,
            rolling_quantile(latency, run.window_s, q),
            ls=style,
            color="#24292f",
            lw=1.4,
            label=f"rolling p{round(q * 100)} ({run.window_s:g} s)",
        )
    positive = load["latency_s"][load["latency_s"] > 0]
    if len(positive) and positive.max() / positive.min() > 100:
        ax.set_yscale("log")  # timeouts next to millisecond replies would flatten the rest
    else:
        _floor_at_zero(ax)
    _finish(ax)
    return fig


def hit_rate_chart(run: RunData) -> Figure | Skipped:
    """Rolling PMS cache hit rate from the hit and miss counter increases."""
    hits = counter_increase(run, "pms_cache_hits_total")
    misses = counter_increase(run, "pms_cache_misses_total")
    if hits.empty and misses.empty:
        return Skipped("no pms_cache_hits_total or pms_cache_misses_total samples")
    both = (
        pd.concat([hits.sum(axis=1).rename("hits"), misses.sum(axis=1).rename("misses")], axis=1)
        .sort_index()
        .ffill()
        .fillna(0.0)
    )
    if float(both.iloc[-1].sum()) == 0.0:
        return Skipped("no PMS cache lookups happened during the run")
    steps = both.diff().fillna(0.0)
    window = (
        pd.DataFrame(
            steps.to_numpy(), columns=steps.columns, index=pd.to_timedelta(steps.index, unit="s")
        )
        .rolling(f"{run.window_s:g}s")
        .sum()
    )
    lookups = window["hits"] + window["misses"]
    rate = (window["hits"] / lookups.where(lookups > 0)).to_numpy() * 100.0
    fig, ax = _new_axes(run, "PMS cache hit rate", "hit rate (%)")
    ax.plot(
        both.index, rate, lw=1.8, color="#0969da", label=f"hit rate (rolling {run.window_s:g} s)"
    )
    ax.axhline(
        run.hit_rate_target * 100.0,
        ls="--",
        color="#57606a",
        lw=1.2,
        label=f"target {run.hit_rate_target:.0%}",
    )
    ax.set_ylim(-3, 105)
    _finish(ax)
    return fig


CHARTS: tuple[tuple[str, Callable[[RunData], Figure | Skipped]], ...] = (
    ("Circuit breaker state", breaker_chart),
    ("Retries", retries_chart),
    ("Audit fallback", fallback_chart),
    ("Guest reply latency", latency_chart),
    ("PMS cache hit rate", hit_rate_chart),
)


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def render_charts(journal: dict[str, Any]) -> list[Chart]:
    """Every chart of the report, in order, each rendered or skipped with a note."""
    run = run_data(journal)
    charts = []
    for title, build in CHARTS:
        result = build(run)
        if isinstance(result, Skipped):
            charts.append(Chart(title, None, result.reason))
        else:
            charts.append(Chart(title, png_bytes(result)))
    return charts
