"""Chaos windows: the dashboards' annotation on the proxy's fault series, as regions.

Every dashboard carries a Prometheus annotation named ``Chaos windows`` on
``chaoslab_proxy_toxic_active`` and ``chaoslab_proxy_disabled`` (chaos.proxy.chaoswindows),
scoped to the proxies that dashboard is about. Grafana turns such a query into regions
(``public/app/plugins/datasource/prometheus/annotations.ts``): per series, every sample
above 0 is active, and active samples at most one step apart join one region from the
first to the last. ``regions`` does exactly that, so the renderer and the reports shade
what Grafana would show.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from chaos.dashboards.promql import substitute, template_variables

CHAOS_ANNOTATION = "Chaos windows"
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
CHAOS_SERIES = ("chaoslab_proxy_toxic_active", "chaoslab_proxy_disabled")


@dataclass(frozen=True)
class Region:
    """One annotation region: from ``start`` to ``end`` (unix seconds), with its texts."""

    start: float
    end: float
    title: str
    text: str = ""
    tags: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Region:
        return cls(
            float(data["start"]),
            float(data["end"]),
            str(data["title"]),
            str(data.get("text", "")),
            tuple(data.get("tags", ())),
        )


def render_format(template: str, labels: Mapping[str, str]) -> str:
    """Grafana's ``renderLegendFormat``: ``{{label}}`` replaced by the value ("" if absent)."""
    out = _PLACEHOLDER.sub(lambda m: labels.get(m.group(1), ""), template)
    return " ".join(out.split())


def regions(
    results: Sequence[Mapping[str, Any]],
    step_s: float,
    *,
    title_format: str = "",
    text_format: str = "",
    tag_keys: str = "",
) -> list[Region]:
    """Regions from a ``query_range`` matrix, the way Grafana's Prometheus annotations do."""
    keys = [k.strip() for k in tag_keys.split(",") if k.strip()]
    found = []
    for series in results:
        labels = {k: str(v) for k, v in series.get("metric", {}).items()}
        active = [
            float(t)
            for t, v in series.get("values", [])
            if math.isfinite(float(v)) and float(v) > 0
        ]
        if not active:
            continue
        title = render_format(title_format, labels)
        text = render_format(text_format, labels)
        tags = tuple(labels[k] for k in keys if k in labels)
        start = end = active[0]
        for t in active[1:]:
            if end + step_s >= t:
                end = t
                continue
            found.append(Region(start, end, title, text, tags))
            start = end = t
        found.append(Region(start, end, title, text, tags))
    return sorted(found, key=lambda r: (r.start, r.title))


def chaos_annotation(dashboard: Mapping[str, Any]) -> dict[str, Any] | None:
    """The dashboard's chaos-window annotation, or None."""
    for annotation in dashboard.get("annotations", {}).get("list", []):
        if annotation.get("name") == CHAOS_ANNOTATION:
            return dict(annotation)
    return None


def step_seconds(step: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for unit in ("ms", "s", "m", "h"):
        if step.endswith(unit) and step[: -len(unit)].replace(".", "", 1).isdigit():
            return float(step[: -len(unit)]) * units[unit]
    raise ValueError(f"not a step: {step!r}")


def chaos_regions(
    client: Any, dashboard: Mapping[str, Any], start: float, end: float, step: str = "1s"
) -> list[Region]:
    """The chaos windows the dashboard's annotation shows over [start, end].

    The query runs at the coarser of ``step`` and the annotation's own step, which
    Grafana takes as a minimum. ``client`` is a ``PrometheusClient``; its
    ``DashboardError`` propagates.
    """
    annotation = chaos_annotation(dashboard)
    if annotation is None:
        return []
    own = str(annotation.get("step") or step)
    used = step if step_seconds(step) >= step_seconds(own) else own
    expr = substitute(str(annotation["expr"]), template_variables(dashboard), interval=used)
    results = client.query_range(expr, start, end, used)
    return regions(
        results,
        step_seconds(used),
        title_format=str(annotation.get("titleFormat", "")),
        text_format=str(annotation.get("textFormat", "")),
        tag_keys=str(annotation.get("tagKeys", "")),
    )
