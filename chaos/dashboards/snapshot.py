"""The dashboard panels that matter for a run, captured over its window for its report.

``capture`` reads, from Prometheus, the panels of the shipped dashboards that show the
faults an experiment injected (``PANELS``), and each dashboard's own chaos windows
(``chaos.dashboards.windows``). The result goes into the journal, so the report draws
the panels later without Prometheus, and stays a single offline file. ``draw`` makes
one PNG per panel: the series as Grafana would plot them, the chaos windows shaded, and
the journal's confirmed inject and remove times as dotted lines beside them.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import matplotlib.dates as mdates
import matplotlib.pyplot as plt

from chaos.dashboards import DashboardError
from chaos.dashboards.draw import PanelData, Series, draw_timeseries, shade_regions
from chaos.dashboards.promql import iter_panels, load_dashboards
from chaos.dashboards.render import PrometheusClient, collect_panels
from chaos.dashboards.windows import Region, chaos_regions

Key = tuple[str, str]  # dashboard uid, panel title
ALWAYS: tuple[Key, ...] = (
    ("hcl-agent-overview", "Guest request latency"),
    ("hcl-resilience", "Dependencies as the agent sees them"),
    ("hcl-agent-overview", "Firing alerts by severity"),
)
#: Panels that show what a fault on each proxy (or service) does.
PANELS: dict[str, tuple[Key, ...]] = {
    "redis": (
        ("hcl-resilience", "Session save retries"),
        ("hcl-resilience", "Retry attempts"),
    ),
    "postgres": (
        ("hcl-resilience", "Breaker states"),
        ("hcl-resilience", "Audit events by outcome"),
        ("hcl-resilience", "Audit events pending replay"),
    ),
    "pms": (
        ("hcl-resilience", "Breaker states"),
        ("hcl-resilience", "PMS calls by outcome"),
        ("hcl-pms-cache", "Stale answers served"),
    ),
}
STEP = "1s"
RATE_INTERVAL = "10s"  # Grafana's $__rate_interval for the lab's 1-2 s scrapes


def panels_for(targets: Iterable[str]) -> list[Key]:
    """The panels for faults on ``targets``, each once, in a stable order."""
    keys = [*ALWAYS]
    for target in sorted(set(targets)):
        keys.extend(PANELS.get(target, ()))
    return list(dict.fromkeys(keys))


def _finite(values: Sequence[float]) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values]


def capture(
    prometheus_url: str | None, targets: Iterable[str], start: float, end: float
) -> list[dict[str, Any]]:
    """The panels for ``targets`` over [start, end], as journal entries (never raises)."""
    if not prometheus_url:
        return []
    wanted = panels_for(targets)
    dashboards = {d["uid"]: d for d in load_dashboards()}
    entries: list[dict[str, Any]] = []
    try:
        client = PrometheusClient(prometheus_url)
    except DashboardError:
        return []
    with client:
        windows: dict[str, list[Region] | str] = {}
        for uid, title in wanted:
            dashboard = dashboards.get(uid)
            panel = next((p for p in iter_panels(dashboard or {}) if p.get("title") == title), None)
            if dashboard is None or panel is None:
                continue
            if uid not in windows:
                try:
                    windows[uid] = chaos_regions(client, dashboard, start, end, STEP)
                except DashboardError as exc:
                    windows[uid] = str(exc)
            (data,) = collect_panels(
                client, dashboard, start=start, end=end, step=STEP,
                rate_interval=RATE_INTERVAL, panel_ids={panel["id"]},
            )  # fmt: skip
            shown = windows[uid]
            entries.append(
                {
                    "dashboard": uid,
                    "dashboard_title": str(dashboard.get("title", uid)),
                    "panel": {
                        k: panel.get(k) for k in ("title", "type", "description", "fieldConfig")
                    },
                    "series": [
                        {"legend": s.legend, "times": s.times, "values": _finite(s.values)}
                        for s in data.series
                    ],
                    "errors": data.errors + ([shown] if isinstance(shown, str) else []),
                    "windows": [] if isinstance(shown, str) else [r.to_dict() for r in shown],
                }
            )
    return entries


def _panel_data(entry: Mapping[str, Any]) -> PanelData:
    series = [
        Series(
            str(s["legend"]),
            [float(t) for t in s["times"]],
            [math.nan if v is None else float(v) for v in s["values"]],
        )
        for s in entry.get("series", [])
    ]
    return PanelData(
        panel=dict(entry["panel"]), series=series, errors=list(entry.get("errors", []))
    )


def draw(entry: Mapping[str, Any], marks: Sequence[tuple[float, float]] = ()) -> bytes:
    """One captured panel as a PNG; ``marks`` are the journal's (start, end) per fault."""
    data = _panel_data(entry)
    fig, ax = plt.subplots(figsize=(9, 3.2))
    try:
        draw_timeseries(ax, data)
        windows = [Region.from_dict(r) for r in entry.get("windows", [])]
        shade_regions(ax, windows)
        for start, end in marks:
            for t in (start, end):
                x = mdates.date2num(datetime.fromtimestamp(t, UTC))
                ax.axvline(x, color="#6e40c9", linestyle=":", linewidth=1)
        if not data.series:
            reason = "; ".join(data.errors) or "no data"
            ax.text(0.5, 0.5, reason[:120], transform=ax.transAxes, ha="center", va="center")
        ax.set_title(
            f"{entry.get('dashboard_title')}: {data.panel.get('title')}", fontsize=9, loc="left"
        )
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=90)
    finally:
        plt.close(fig)
    return buffer.getvalue()
