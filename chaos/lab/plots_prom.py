"""Dashboards as small multiples: one axes per panel, drawn from ``query_panels`` results."""

from __future__ import annotations

import math

import pandas as pd

from chaos.figures.base import LabFigure, new_figure
from chaos.lab.errors import LabError
from chaos.lab.prom import PanelResults

COLS = 3
PALETTE = ("#0969da", "#cf222e", "#2da44e", "#d4a72c", "#8250df", "#bc4c00", "#57606a", "#1b7c83")


def plot_dashboard(results: PanelResults, dashboard: str, max_series: int = 6) -> LabFigure:
    """Every panel of ``dashboard`` (uid) as a chart of its queries' series over time.

    A stat or gauge panel shows its series too, with its last value in the title. A panel
    whose queries returned nothing says so, and a failed query shows its error.
    """
    queries = results.queries[results.queries["dashboard"] == dashboard]
    if queries.empty:
        known = ", ".join(sorted(results.queries["dashboard"].unique()))
        raise LabError(f"no dashboard {dashboard!r}; known: {known}")
    panels = queries.drop_duplicates("panel_id").sort_values("panel_id")
    rows = math.ceil(len(panels) / COLS)
    fig, axes = new_figure(rows, COLS, width=13.0, height=2.3)
    data = results.data[results.data["dashboard"] == dashboard]
    t_end = pd.Timestamp.now(tz="UTC").tz_localize(None)
    for ax, panel in zip(axes, panels.itertuples(index=False), strict=False):
        part = data[data["panel_id"] == panel.panel_id]
        errors = [
            e for (d, p, _), e in results.errors.items() if d == dashboard and p == panel.panel_id
        ]
        title = str(panel.panel)
        if part.empty:
            ax.text(
                0.5,
                0.5,
                errors[0][:60] if errors else "no data in range",
                ha="center",
                va="center",
                transform=ax.transAxes,
                fontsize=8,
                color="#cf222e" if errors else "#57606a",
            )
        else:
            keys = list(dict.fromkeys(zip(part["ref"], part["series"], strict=True)))
            series = [name for _, name in keys[:max_series]]
            for i, (ref, name) in enumerate(keys[:max_series]):
                s = part[(part["ref"] == ref) & (part["series"] == name)].sort_values("timestamp")
                minutes = (pd.to_datetime(s["timestamp"]) - t_end).dt.total_seconds() / 60
                ax.plot(
                    minutes,
                    s["value"],
                    lw=1.3,
                    color=PALETTE[i % len(PALETTE)],
                    label=str(name)[:28],
                )
            if panel.panel_type in ("stat", "gauge"):
                last = part.sort_values("timestamp")["value"].dropna()
                if len(last):
                    title += f"  = {last.iloc[-1]:.3g}"
            if 1 < len(series) <= max_series:
                ax.legend(fontsize=6, frameon=False, loc="upper left")
        ax.set_title(title, fontsize=8.5, loc="left")
        ax.tick_params(labelsize=7)
        ax.ticklabel_format(axis="y", style="plain", useOffset=False)
        ax.grid(True, alpha=0.3)
        ax.set_xlabel("minutes before now", fontsize=7)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    title = str(queries["dashboard_title"].iloc[0])
    fig.suptitle(
        f"{title}  (last {results.minutes:g} min, Prometheus range queries)",
        fontsize=11,
        x=0.01,
        ha="left",
    )
    return fig
