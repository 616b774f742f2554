"""Draw Grafana panels with matplotlib: timeseries, stat and gauge, laid out as in Grafana.

Grafana places panels on a 24-column grid (``gridPos``); the figure uses the same grid,
so the PNG looks like the dashboard. Units, thresholds and value mappings come from the
panel's ``fieldConfig.defaults``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported: no display here

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from chaos.dashboards.windows import Region

GRID_COLUMNS = 24
INCH_PER_COLUMN = 0.9
INCH_PER_ROW = 0.42
HEADER_INCHES = 1.0

# Grafana's named colours, as matplotlib colours.
COLOURS = {
    "green": "#56a64b",
    "red": "#e02f44",
    "dark-red": "#ad0317",
    "orange": "#ff9830",
    "yellow": "#f2cc0c",
    "blue": "#3274d9",
    "purple": "#a352cc",
    "text": "#cccccc",
    "chaos": "#a352cc",
}
UNIT_LABELS = {
    "reqps": "requests/s",
    "ops": "per second",
    "percentunit": "percent",
    "s": "seconds",
    "bytes": "bytes",
    "short": "count",
    "none": "value",
}


@dataclass
class Series:
    """One line of a panel: its legend and its (unix time, value) samples."""

    legend: str
    times: list[float]
    values: list[float]

    def last(self) -> float | None:
        """The last finite value, or None."""
        return next((v for v in reversed(self.values) if math.isfinite(v)), None)


@dataclass
class PanelData:
    """A panel and what its queries returned."""

    panel: dict[str, Any]
    series: list[Series] = field(default_factory=list)
    empty_targets: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def colour(name: str | None) -> str:
    """A Grafana colour name (or CSS colour) as a matplotlib colour."""
    if not name:
        return COLOURS["green"]
    if name in COLOURS:
        return COLOURS[name]
    return name if name.startswith("#") else "#888888"


def _defaults(panel: dict[str, Any]) -> dict[str, Any]:
    return dict(panel.get("fieldConfig", {}).get("defaults", {}))


def _mappings(panel: dict[str, Any]) -> dict[float, tuple[str, str | None]]:
    """Value mappings of the panel: value -> (text, colour)."""
    found: dict[float, tuple[str, str | None]] = {}
    for mapping in _defaults(panel).get("mappings", []):
        if mapping.get("type") != "value":
            continue
        for key, result in mapping.get("options", {}).items():
            found[float(key)] = (str(result.get("text", key)), result.get("color"))
    return found


def _threshold_steps(panel: dict[str, Any]) -> list[tuple[float | None, str]]:
    steps = _defaults(panel).get("thresholds", {}).get("steps", [])
    return [(s.get("value"), str(s.get("color", "green"))) for s in steps]


def threshold_colour(panel: dict[str, Any], value: float) -> str:
    """The colour of the threshold step ``value`` falls in."""
    chosen = "green"
    for limit, name in _threshold_steps(panel):
        if limit is None or value >= limit:
            chosen = name
    return colour(chosen)


def format_value(value: float | None, unit: str, decimals: int | None = None) -> str:
    """A value as Grafana would print it for ``unit``."""
    if value is None or not math.isfinite(value):
        return "no value"
    if unit == "percentunit":
        return f"{value * 100:.{1 if decimals is None else decimals}f} %"
    if unit == "s":
        if 0 < abs(value) < 0.001:
            return f"{value * 1e6:.{0 if decimals is None else decimals}f} µs"
        if 0 < abs(value) < 1:
            return f"{value * 1000:.{0 if decimals is None else decimals}f} ms"
        return f"{value:.{2 if decimals is None else decimals}f} s"
    if unit == "bytes":
        size = float(value)
        for prefix in ("B", "KiB", "MiB", "GiB", "TiB"):
            if abs(size) < 1024 or prefix == "TiB":
                return f"{size:.{0 if prefix == 'B' else 1}f} {prefix}"
            size /= 1024
    suffix = {"reqps": " req/s", "ops": " /s"}.get(unit, "")
    if decimals is None:
        decimals = 0 if float(value).is_integer() else 2
    for limit, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{prefix}{suffix}"
    return f"{value:.{decimals}f}{suffix}"


def _axis_formatter(unit: str, mappings: dict[float, tuple[str, str | None]]) -> FuncFormatter:
    def fmt(value: float, _pos: int) -> str:
        if mappings:
            return mappings[value][0] if value in mappings else ""
        return format_value(value, unit)

    return FuncFormatter(fmt)


def draw_timeseries(ax: Axes, data: PanelData) -> None:
    """Lines per series, the unit on the y axis, dashed threshold lines if enabled."""
    defaults = _defaults(data.panel)
    unit = str(defaults.get("unit", "short"))
    mappings = _mappings(data.panel)
    stepped = defaults.get("custom", {}).get("lineInterpolation") == "stepAfter"
    for series in data.series[:12]:
        times = mdates.date2num([datetime.fromtimestamp(t, UTC) for t in series.times])
        if stepped:
            ax.step(times, series.values, where="post", label=series.legend, linewidth=1.2)
        else:
            ax.plot(times, series.values, label=series.legend, linewidth=1.2)
    style = defaults.get("custom", {}).get("thresholdsStyle", {}).get("mode", "off")
    if style != "off":
        for limit, name in _threshold_steps(data.panel):
            if limit is not None:
                ax.axhline(limit, color=colour(name), linestyle="--", linewidth=1)
    if "min" in defaults:
        ax.set_ylim(bottom=float(defaults["min"]))
    if "max" in defaults:
        ax.set_ylim(top=float(defaults["max"]) * (1.05 if mappings else 1.02))
    if mappings:
        ax.set_yticks(sorted(mappings))
    ax.yaxis.set_major_formatter(_axis_formatter(unit, mappings))
    ax.set_ylabel(UNIT_LABELS.get(unit, unit), fontsize=7)
    span = max((s.times[-1] - s.times[0] for s in data.series if s.times), default=0)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S" if span < 600 else "%H:%M"))
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    if data.series:
        ax.legend(fontsize=6, loc="upper left", ncol=2, framealpha=0.6)


def _stat_text(data: PanelData) -> tuple[str, float | None]:
    defaults = _defaults(data.panel)
    unit = str(defaults.get("unit", "short"))
    value = next((s.last() for s in data.series if s.last() is not None), None)
    mappings = _mappings(data.panel)
    if value is not None and value in mappings:
        return mappings[value][0], value
    return format_value(value, unit, defaults.get("decimals")), value


def draw_stat(ax: Axes, data: PanelData) -> None:
    """The last value, large, coloured by threshold, over a faint sparkline."""
    text, value = _stat_text(data)
    mappings = _mappings(data.panel)
    if value is not None and value in mappings and mappings[value][1]:
        tint = colour(mappings[value][1])
    else:
        tint = threshold_colour(data.panel, value) if value is not None else "#888888"
    if data.series and data.series[0].values:
        ax.fill_between(
            range(len(data.series[0].values)), data.series[0].values, color=tint, alpha=0.15
        )
    ax.text(
        0.5,
        0.45,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=18,
        color=tint,
        fontweight="bold",
    )
    unit = str(_defaults(data.panel).get("unit", "short"))
    ax.text(0.5, 0.08, UNIT_LABELS.get(unit, unit), transform=ax.transAxes, ha="center", fontsize=7)
    ax.set_xticks([])
    ax.set_yticks([])


def draw_gauge(ax: Axes, data: PanelData) -> None:
    """A horizontal bar from min to max with threshold bands and the current value."""
    defaults = _defaults(data.panel)
    text, value = _stat_text(data)
    low = float(defaults.get("min", 0))
    high = float(defaults.get("max", max(1.0, (value or 0) * 1.25)))
    steps = _threshold_steps(data.panel)
    for i, (limit, name) in enumerate(steps):
        start = low if limit is None else float(limit)
        end = high if i + 1 == len(steps) else float(steps[i + 1][0] or high)
        ax.barh(0, end - start, left=start, height=0.3, color=colour(name), alpha=0.35)
    if value is not None:
        ax.barh(
            0,
            min(max(value, low), high) - low,
            left=low,
            height=0.14,
            color=threshold_colour(data.panel, value),
        )
    ax.set_xlim(low, high)
    ax.set_ylim(-0.6, 0.9)
    ax.text(
        0.5,
        0.8,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=18,
        fontweight="bold",
        color=threshold_colour(data.panel, value) if value is not None else "#888",
    )
    unit = str(defaults.get("unit", "short"))
    ax.xaxis.set_major_formatter(_axis_formatter(unit, {}))
    ax.set_yticks([])
    ax.tick_params(labelsize=7)


DRAWERS = {"timeseries": draw_timeseries, "stat": draw_stat, "gauge": draw_gauge}


def shade_regions(ax: Axes, regions: Sequence[Region], min_width_s: float = 1.0) -> int:
    """Shade chaos windows on a time axis (one region at least ``min_width_s`` wide)."""
    for region in regions:
        start = mdates.date2num(datetime.fromtimestamp(region.start, UTC))
        end = mdates.date2num(
            datetime.fromtimestamp(max(region.end, region.start + min_width_s), UTC)
        )
        ax.axvspan(start, end, color=COLOURS["chaos"], alpha=0.15, linewidth=0)
    return len(regions)


def _panel_rect(
    pos: dict[str, int], width_in: float, height_in: float
) -> tuple[float, float, float, float]:
    """Axes rectangle (figure fractions) for a grid position, leaving room for labels."""
    left_pad, right_pad, top_pad, bottom_pad = 0.75, 0.15, 0.35, 0.45
    left = pos["x"] * INCH_PER_COLUMN + left_pad
    width = pos["w"] * INCH_PER_COLUMN - left_pad - right_pad
    top = HEADER_INCHES + pos["y"] * INCH_PER_ROW + top_pad
    height = pos["h"] * INCH_PER_ROW - top_pad - bottom_pad
    return (left / width_in, 1 - (top + height) / height_in, width / width_in, height / height_in)


def draw_dashboard(
    dashboard: dict[str, Any],
    panels: Sequence[PanelData],
    out: Path,
    subtitle: str,
    regions: Sequence[Region] = (),
) -> Path:
    """Draw every panel at its grid position and save one PNG at ``out``.

    ``regions`` (the dashboard's chaos windows) are shaded on every time-series panel.
    """
    rows = max((p.panel["gridPos"]["y"] + p.panel["gridPos"]["h"] for p in panels), default=1)
    width_in = GRID_COLUMNS * INCH_PER_COLUMN
    height_in = HEADER_INCHES + rows * INCH_PER_ROW
    fig: Figure = plt.figure(figsize=(width_in, height_in))
    fig.text(
        0.5,
        1 - 0.3 / height_in,
        str(dashboard.get("title", "")),
        ha="center",
        va="top",
        fontsize=15,
        fontweight="bold",
    )
    fig.text(0.5, 1 - 0.7 / height_in, subtitle, ha="center", va="top", fontsize=9)
    for data in panels:
        ax = fig.add_axes(_panel_rect(data.panel["gridPos"], width_in, height_in))
        ax.set_title(str(data.panel.get("title", "")), fontsize=9, loc="left")
        drawer = DRAWERS.get(str(data.panel.get("type")), draw_timeseries)
        drawer(ax, data)
        if drawer is draw_timeseries and data.series:
            shade_regions(ax, regions)
        if not data.series:
            reason = "query error" if data.errors else "no data"
            ax.text(
                0.5,
                0.5,
                reason,
                transform=ax.transAxes,
                ha="center",
                va="center",
                fontsize=11,
                color=COLOURS["red"],
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out
