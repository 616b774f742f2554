"""Charts of Locust traffic runs: the PMS cache hit ratio over time and across sweeps."""

from __future__ import annotations

import numpy as np

from chaos.figures.base import LabFigure, finish, new_figure
from chaos.lab.analysis import hit_timeline
from chaos.lab.load import Sweep, Traffic

KIND_STYLE = {
    "all": ("#0969da", "-", 2.2),
    "availability": ("#8250df", "--", 1.4),
    "room_types": ("#2da44e", ":", 1.4),
}


def plot_hit_ratio(t: Traffic, target: float = 0.7, window_s: float = 5.0) -> LabFigure:
    """Rolling hit ratio (all lookups and per kind) against the target, and lookups per second."""
    fig, (ax, rate) = new_figure(2, 1, height=3.0, sharex=True)
    timeline = hit_timeline(t, window_s)
    for kind, (colour, style, width) in KIND_STYLE.items():
        ax.plot(
            timeline.index,
            timeline[kind] * 100,
            color=colour,
            ls=style,
            lw=width,
            label=f"{kind} (rolling {window_s:g} s)",
        )
    ax.plot(
        timeline.index,
        timeline["cumulative"] * 100,
        color="#24292f",
        lw=1.0,
        alpha=0.7,
        label="all, cumulative since start",
    )
    ax.axhline(target * 100, color="#cf222e", ls="--", lw=1.3, label=f"target {target:.0%}")
    ax.set_ylim(-3, 105)
    finish(
        ax,
        f"PMS cache hit ratio: {t.label}, {t.settings.get('users')} guests, cold cache at t=0",
        "hit ratio (%)",
        xlabel="",
    )
    hits, misses = t.hit_counts()
    step = np.gradient(hits.to_numpy()), np.gradient(misses.to_numpy())
    dt = np.gradient(hits.index.to_numpy(dtype=float)) if len(hits) > 1 else np.ones(len(hits))
    rate.stackplot(
        hits.index,
        step[0] / dt,
        step[1] / dt,
        colors=["#2da44e", "#8250df"],
        alpha=0.6,
        labels=["hits/s", "misses/s"],
    )
    finish(rate, "Cache lookups per second", "lookups/s", xlabel="time since load start (s)")
    return fig


def plot_sweep(sweep: Sweep, target: float = 0.7) -> LabFigure:
    """Hit ratio per sweep point (all, availability, room types), against the target."""
    table = sweep.table
    fig, (ax, curve) = new_figure(1, 2, height=3.8)
    x = np.arange(len(table))
    for offset, (column, colour, label) in zip(
        (-0.27, 0.0, 0.27),
        (
            ("hit_ratio", "#0969da", "all lookups"),
            ("availability_hit_ratio", "#8250df", "availability"),
            ("room_types_hit_ratio", "#2da44e", "room types"),
        ),
        strict=True,
    ):
        values = table[column].fillna(0).to_numpy(dtype=float) * 100
        ax.bar(x + offset, values, 0.27, color=colour, label=label)
    ax.axhline(target * 100, color="#cf222e", ls="--", lw=1.3, label=f"target {target:.0%}")
    ax.set_xticks(
        x,
        [f"{label}\n{n:g} lookups" for label, n in zip(table.index, table["lookups"], strict=True)],
    )
    ax.set_ylim(0, 105)
    finish(
        ax,
        f"Hit ratio by {sweep.parameter} (each from a cold cache)",
        "hit ratio (%)",
        xlabel=sweep.parameter,
    )
    for run, colour in zip(
        sweep.runs, ("#cf222e", "#d4a72c", "#2da44e", "#0969da", "#8250df"), strict=False
    ):
        cumulative = hit_timeline(run)["cumulative"] * 100
        curve.plot(cumulative.index, cumulative.to_numpy(), color=colour, lw=1.8, label=run.label)
    curve.axhline(target * 100, color="#cf222e", ls="--", lw=1.0)
    curve.set_ylim(-3, 105)
    finish(
        curve,
        "Cumulative hit ratio as the cache warms",
        "hit ratio (%)",
        xlabel="time since load start (s)",
    )
    return fig
