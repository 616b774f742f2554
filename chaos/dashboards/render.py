"""Render the Grafana dashboards to PNG from a live Prometheus, without Grafana.

``chaoslab dashboards render --prometheus URL --out DIR`` queries ``/api/v1/query_range``
for every panel target (Grafana variables replaced by fixed values), then draws each
dashboard as one PNG with matplotlib. With ``--strict`` a panel query that fails or
returns nothing is an error, after all PNGs are written.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from chaos.dashboards import DashboardError
from chaos.dashboards.assets import GRAFANA_DASHBOARDS_DIR
from chaos.dashboards.draw import PanelData, Series, draw_dashboard
from chaos.dashboards.promql import (
    iter_panels,
    load_dashboards,
    panel_queries,
    substitute,
    template_variables,
)
from chaos.dashboards.windows import Region, chaos_regions

TIMEOUT = httpx.Timeout(10.0, connect=3.0)
_LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")


class PrometheusClient:
    """The two Prometheus HTTP API calls the renderer and the tests need."""

    def __init__(
        self,
        base_url: str,
        timeout: httpx.Timeout = TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            response = self._http.get(path, params=params)
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise DashboardError(f"Prometheus {path} failed: {exc}") from exc
        if body.get("status") != "success":
            raise DashboardError(f"{body.get('errorType')}: {body.get('error')}")
        return dict(body["data"])

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query at the current time; raises DashboardError on a PromQL error."""
        return list(self._get("/api/v1/query", {"query": expr})["result"])

    def rule_groups(self) -> list[dict[str, Any]]:
        """The loaded rule groups with each rule's health and last error."""
        return list(self._get("/api/v1/rules", {})["groups"])

    def query_range(self, expr: str, start: float, end: float, step: str) -> list[dict[str, Any]]:
        """Range query; raises DashboardError on a PromQL error."""
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": step}
        return list(self._get("/api/v1/query_range", params)["result"])


def legend(template: str, labels: dict[str, str]) -> str:
    """Grafana's legendFormat: ``{{label}}`` replaced by the series' label values."""
    if template:
        return _LEGEND_LABEL.sub(lambda m: labels.get(m.group(1), ""), template).strip() or "value"
    shown = {k: v for k, v in labels.items() if k != "__name__"}
    return ", ".join(f"{k}={v}" for k, v in sorted(shown.items())) or "value"


def to_series(result: dict[str, Any], template: str) -> Series:
    """One Prometheus matrix result as a Series (NaN and Inf kept as gaps)."""
    times, values = [], []
    for stamp, raw in result.get("values", []):
        value = float(raw)
        times.append(float(stamp))
        values.append(value if math.isfinite(value) else math.nan)
    return Series(legend(template, result.get("metric", {})), times, values)


def collect_panels(
    client: PrometheusClient,
    dashboard: dict[str, Any],
    *,
    start: float,
    end: float,
    step: str,
    rate_interval: str,
    panel_ids: Collection[int] | None = None,
) -> list[PanelData]:
    """Run every target of every panel (or of ``panel_ids``) of ``dashboard`` over [start, end]."""
    variables = template_variables(dashboard)
    by_panel = {
        p["id"]: PanelData(panel=p)
        for p in iter_panels(dashboard)
        if "gridPos" in p and (panel_ids is None or p["id"] in panel_ids)
    }
    for query in panel_queries(dashboard):
        if query.panel_id not in by_panel:
            continue
        data = by_panel[query.panel_id]
        where = f"{dashboard.get('uid')}/{query.panel_title}/{query.ref_id}"
        try:
            expr = substitute(
                query.expr,
                variables,
                rate_interval=rate_interval,
                interval=step,
                range_s=int(end - start),
            )
            results = client.query_range(expr, start, end, step)
        except DashboardError as exc:
            data.errors.append(f"{where}: {exc}")
            continue
        if not results:
            data.empty_targets.append(where)
        data.series.extend(to_series(r, query.legend) for r in results)
    return list(by_panel.values())


def render_dashboards(
    prometheus_url: str,
    out_dir: Path,
    dashboards_dir: Path = GRAFANA_DASHBOARDS_DIR,
    range_s: int = 900,
    step: str = "15s",
    *,
    rate_interval: str = "1m",
    only: Collection[str] = (),
    strict: bool = False,
    end: float | None = None,
) -> list[Path]:
    """Draw each dashboard (or those whose uid is in ``only``) as ``<out_dir>/<uid>.png``.

    The range ends at ``end`` (default: now). The dashboard's chaos windows are shaded on
    its time series. With ``strict``, raises DashboardError after drawing if any panel
    query failed or returned no series.
    """
    dashboards = [d for d in load_dashboards(dashboards_dir) if not only or d.get("uid") in only]
    if not dashboards:
        raise DashboardError(f"no dashboards to render in {dashboards_dir} (only={sorted(only)})")
    end = time.time() if end is None else end
    start = end - range_s
    stamp = datetime.fromtimestamp(end, UTC).strftime("%Y-%m-%d %H:%M UTC")
    span = f"{range_s // 60} min" if range_s >= 600 else f"{range_s} s"
    subtitle = f"last {span} to {stamp}, step {step}, from {prometheus_url}"
    written: list[Path] = []
    problems: list[str] = []
    with PrometheusClient(prometheus_url) as client:
        for dashboard in dashboards:
            panels = collect_panels(
                client, dashboard, start=start, end=end, step=step, rate_interval=rate_interval
            )
            for data in panels:
                problems.extend(data.errors)
                problems.extend(f"{t}: no data" for t in data.empty_targets)
            windows: list[Region] = []
            try:
                windows = chaos_regions(client, dashboard, start, end, step)
            except DashboardError as exc:
                problems.append(f"{dashboard.get('uid')}/chaos windows: {exc}")
            shaded = f"; shaded: {len(windows)} chaos window(s)" if windows else ""
            out = out_dir / f"{dashboard.get('uid')}.png"
            written.append(draw_dashboard(dashboard, panels, out, subtitle + shaded, windows))
    if strict and problems:
        raise DashboardError("panel queries without data:\n  " + "\n  ".join(problems))
    return written


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chaoslab dashboards render",
        description="Draw the Grafana dashboards as PNG files from a live Prometheus.",
    )
    parser.add_argument("--prometheus", required=True, help="Prometheus base URL")
    parser.add_argument("--out", required=True, type=Path, help="directory for the PNG files")
    parser.add_argument(
        "--dashboards",
        type=Path,
        default=GRAFANA_DASHBOARDS_DIR,
        help="directory of dashboard JSON files (default: the shipped ones)",
    )
    parser.add_argument(
        "--range",
        dest="range_s",
        type=int,
        default=900,
        help="time range in seconds, ending now (default 900)",
    )
    parser.add_argument(
        "--end", type=float, default=None, help="end of the range, unix seconds (default: now)"
    )
    parser.add_argument("--step", default="15s", help="query resolution (default 15s)")
    parser.add_argument(
        "--rate-interval", default="1m", help="value of $__rate_interval (default 1m)"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="UID",
        help="render only this dashboard uid (repeatable)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="fail when a panel query errors or returns no data"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.range_s <= 0:
        print("error: --range must be positive", file=sys.stderr)
        return 2
    try:
        paths = render_dashboards(
            args.prometheus,
            args.out,
            args.dashboards,
            args.range_s,
            args.step,
            rate_interval=args.rate_interval,
            only=args.only,
            strict=args.strict,
            end=args.end,
        )
    except DashboardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
