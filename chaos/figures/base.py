"""What every chart shares: a figure that shows itself in Jupyter, fault shading, colours,
and the tables charts draw from (a journal's requests, per phase, relative times).

Time on every x axis is seconds since the first fault start (``Journal.origin``).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from chaos.journal import PHASES, Journal
from chaos.traffic import Sample

FAULT_COLOUR = "#e5534b"
STATE_COLOURS = {"closed": "#2da44e", "open": "#cf222e", "half-open": "#d4a72c"}
STATE_LEVEL = {"closed": 0, "open": 1, "half-open": 2}  # the state gauges' encoding
OUTCOME_COLOURS = {
    "ok": "#2da44e",
    "degraded": "#d4a72c",
    "4xx": "#8250df",
    "5xx / no answer": "#cf222e",
}
DPI = 100
REQUEST_COLUMNS = ["t", "latency_s", "status", "degraded", "outcome", "channel", "label", "phase"]


class LabFigure(Figure):
    """A matplotlib Figure with a PNG representation, so Jupyter shows it on any backend.

    The notebooks run headless with ``MPLBACKEND=Agg``, where IPython registers no display
    hook for matplotlib; a cell that ends with a ``LabFigure`` still shows the chart.
    """

    def png(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=DPI)
        return buffer.getvalue()

    def _repr_png_(self) -> bytes:
        return self.png()

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.png())
        return path


@dataclass(frozen=True)
class Skipped:
    """A chart left out because the run lacks the data it needs."""

    reason: str

    def _repr_markdown_(self) -> str:
        return f"*Chart skipped: {self.reason}.*"


def new_figure(
    rows: int = 1, cols: int = 1, *, width: float = 10.0, height: float = 3.6, sharex: bool = False
) -> tuple[LabFigure, list[Axes]]:
    """A figure with ``rows`` x ``cols`` axes (flattened), drawn by the Agg canvas."""
    fig = LabFigure(figsize=(width, height * rows), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, sharex=sharex, squeeze=False)
    return fig, [ax for row in axes for ax in row]


def shade(
    ax: Axes,
    windows: Sequence[tuple[float, float]],
    label: str = "fault window",
    alpha: float = 0.15,
) -> None:
    """Shade each ``(start, end)`` window; only the first gets a legend entry."""
    for i, (start, end) in enumerate(windows):
        ax.axvspan(
            start, end, color=FAULT_COLOUR, alpha=alpha, lw=0, label=label if i == 0 else None
        )


def finish(
    ax: Axes,
    title: str,
    ylabel: str,
    xlabel: str = "time since the first fault start (s)",
    legend: bool = True,
) -> None:
    """Title, labels, grid and a legend outside the plot on the right."""
    ax.set_title(title, fontsize=11, loc="left")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


def floor_at_zero(ax: Axes) -> None:
    """Start the y axis just below 0, so series that stay at 0 are not hidden by the frame."""
    top = max(ax.get_ylim()[1], 1.0)
    ax.set_ylim(-0.03 * top, top)


def fault_windows(journal: Journal) -> list[tuple[float, float]]:
    """Each confirmed fault as ``(start, end)`` seconds since the origin."""
    t0 = journal.origin
    return [
        (f.started_at - t0, (f.ended_at or f.started_at) - t0)
        for f in journal.faults
        if f.started_at is not None
    ]


def relative(points: Sequence[tuple[float, float]], t0: float) -> pd.Series:
    """``(t, value)`` points as a Series indexed by seconds since ``t0``."""
    return pd.Series(
        [v for _, v in points], index=pd.Index([t - t0 for t, _ in points], name="t"), dtype=float
    )


def outcome(status: int, degraded: bool | None) -> str:
    """How a guest request ended: ok, degraded, 4xx, or 5xx / no answer."""
    if status >= 500 or status == 0:
        return "5xx / no answer"
    if status >= 400:
        return "4xx"
    return "degraded" if degraded else "ok"


def requests_frame(journal: Journal) -> pd.DataFrame:
    """Every guest request, by the time it was meant to be sent (seconds since the origin)."""
    return requests_table(journal.samples, journal.origin, journal.phase_of)


def requests_table(
    samples: Sequence[Sample], t0: float, phase_of: Callable[[float], str]
) -> pd.DataFrame:
    """Requests as a table: send time relative to ``t0``, latency, outcome, phase."""
    rows = [
        [
            s.intended_at - t0,
            s.latency_s,
            s.status,
            bool(s.degraded),
            outcome(s.status, s.degraded),
            s.channel,
            s.label,
            phase_of(s.intended_at),
        ]
        for s in samples
    ]
    frame = pd.DataFrame(rows, columns=REQUEST_COLUMNS)
    return frame.astype({"t": float, "latency_s": float, "status": int, "degraded": bool})


def phase_table(requests: pd.DataFrame) -> pd.DataFrame:
    """Per phase: requests, failed (5xx or no answer), their ratio, degraded ratio, p50, p95."""
    rows = []
    for phase in PHASES:
        part = requests[requests["phase"] == phase]
        n = len(part)
        failed = int(((part["status"] >= 500) | (part["status"] == 0)).sum())
        lat = part["latency_s"].to_numpy(dtype=float)
        rows.append(
            {
                "phase": phase,
                "requests": n,
                "errors": failed,
                "error_ratio": failed / n if n else np.nan,
                "degraded_ratio": float(part["degraded"].mean()) if n else np.nan,
                "p50_s": float(np.percentile(lat, 50)) if n else np.nan,
                "p95_s": float(np.percentile(lat, 95)) if n else np.nan,
            }
        )
    return pd.DataFrame(rows).set_index("phase")


def rolling_quantile(values: pd.Series, window_s: float, q: float) -> np.ndarray:
    """Quantile ``q`` over the trailing ``window_s`` seconds at each point (index in s)."""
    series = pd.Series(values.to_numpy(), index=pd.to_timedelta(values.index, unit="s"))
    return series.rolling(f"{window_s:g}s", min_periods=3).quantile(q).to_numpy()
