"""Figures that show themselves in Jupyter whatever the matplotlib backend.

The notebooks run headless with ``MPLBACKEND=Agg``, where IPython registers no display
hook for matplotlib; a ``LabFigure`` carries its own ``_repr_png_``, so a cell that ends
with one shows the chart, in JupyterLab and in the HTML export alike.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

FAULT_COLOUR = "#e5534b"
STATE_COLOURS = {"closed": "#2da44e", "open": "#cf222e", "half-open": "#d4a72c"}
DPI = 100


class LabFigure(Figure):
    """A matplotlib Figure with a PNG representation for Jupyter."""

    def png(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=DPI)
        return buffer.getvalue()

    def _repr_png_(self) -> bytes:
        return self.png()

    def save(self, path: Path) -> Path:
        """Write the figure as PNG to ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.png())
        return path


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
    xlabel: str = "time since fault start (s)",
    legend: bool = True,
) -> None:
    """Title, labels, grid and a legend outside the plot on the right."""
    ax.set_title(title, fontsize=11, loc="left")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
