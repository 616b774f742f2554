"""The Prometheus queries behind the Grafana dashboards, run with prometheus-api-client.

``dashboard_queries`` lists every panel target of ``dashboards/grafana/dashboards`` with
Grafana's variables replaced (the dashboards' own defaults, ``$__rate_interval`` fixed);
``prom_range`` runs one range query into a pandas DataFrame (``MetricRangeDataFrame``);
``query_panels`` runs them all and keeps, per query, its data or its error.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pandas as pd

from chaos.dashboards import DashboardError
from chaos.dashboards.promql import load_dashboards, panel_queries, substitute, template_variables
from chaos.dashboards.render import legend
from chaos.lab.errors import LabError
from chaos.stack.state import StackState

QUERY_COLUMNS = [
    "dashboard",
    "dashboard_title",
    "panel_id",
    "panel",
    "panel_type",
    "ref",
    "legend",
    "promql",
]


def dashboard_queries(rate_interval: str = "30s", range_s: int = 300) -> pd.DataFrame:
    """Every PromQL target of every Grafana dashboard, variables substituted."""
    rows = []
    for dashboard in load_dashboards():
        variables = template_variables(dashboard)
        types = {p["id"]: p.get("type", "") for p in dashboard.get("panels", [])}
        for q in panel_queries(dashboard):
            rows.append(
                {
                    "dashboard": q.dashboard_uid,
                    "dashboard_title": dashboard.get("title", ""),
                    "panel_id": q.panel_id,
                    "panel": q.panel_title,
                    "panel_type": types.get(q.panel_id, ""),
                    "ref": q.ref_id,
                    "legend": q.legend,
                    "promql": substitute(
                        q.expr, variables, rate_interval=rate_interval, range_s=range_s
                    ),
                }
            )
    return pd.DataFrame(rows, columns=QUERY_COLUMNS)


def _connect(stack: StackState) -> object:
    from prometheus_api_client import PrometheusConnect

    prom = PrometheusConnect(url=stack.url("prometheus"), disable_ssl=True)
    if not prom.check_prometheus_connection():
        raise LabError(f"Prometheus at {stack.url('prometheus')} does not answer")
    return prom


def _range(prom: object, promql: str, minutes: float, step: str) -> pd.DataFrame:
    from prometheus_api_client import MetricRangeDataFrame

    end = datetime.now(UTC)
    result = prom.custom_query_range(  # type: ignore[attr-defined]
        promql, start_time=end - timedelta(minutes=minutes), end_time=end, step=step
    )
    if not result:
        return pd.DataFrame(columns=["timestamp", "value"])
    with warnings.catch_warnings():
        # prometheus-api-client uses set_index(inplace=True), which pandas 3 deprecates.
        warnings.simplefilter("ignore")
        frame = MetricRangeDataFrame(result)
    frame = frame.reset_index()
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    return pd.DataFrame(frame)


def prom_range(
    stack: StackState, promql: str, minutes: float = 5.0, step: str = "5s"
) -> pd.DataFrame:
    """One range query over the last ``minutes``: a row per (series, timestamp)."""
    return _range(_connect(stack), promql, minutes, step)


@dataclass
class PanelResults:
    """The outcome of every dashboard query over one time range."""

    queries: pd.DataFrame
    data: pd.DataFrame  # dashboard, panel_id, ref, series, timestamp, value
    errors: dict[tuple[str, int, str], str] = field(default_factory=dict)
    minutes: float = 5.0

    def status(self) -> pd.DataFrame:
        """One row per query: how many series and points it returned, or its error."""
        counts = (
            self.data.groupby(["dashboard", "panel_id", "ref"]).agg(
                series=("series", "nunique"), points=("value", "count")
            )
            if len(self.data)
            else pd.DataFrame(columns=["series", "points"])
        )
        out = self.queries.set_index(["dashboard", "panel_id", "ref"])[["panel", "promql"]].copy()
        out = out.join(counts).fillna({"series": 0, "points": 0})
        out["error"] = [self.errors.get(key, "") for key in out.index]
        return out.reset_index()

    def summary(self) -> pd.DataFrame:
        """Per dashboard: queries, queries with data, empty ones, failed ones."""
        st = self.status()
        st["has_data"] = st["points"] > 0
        st["failed"] = st["error"] != ""
        return st.groupby("dashboard").agg(
            queries=("promql", "count"), with_data=("has_data", "sum"), failed=("failed", "sum")
        )


def query_panels(
    stack: StackState, queries: pd.DataFrame, minutes: float = 5.0, step: str = "5s"
) -> PanelResults:
    """Run every query of ``queries`` (from ``dashboard_queries``) over the last ``minutes``."""
    prom = _connect(stack)
    frames, errors = [], {}
    began = time.monotonic()
    for q in queries.itertuples(index=False):
        key = (str(q.dashboard), int(q.panel_id), str(q.ref))
        try:
            frame = _range(prom, str(q.promql), minutes, step)
        except Exception as exc:  # a PromQL error is a finding to report, not a crash
            errors[key] = f"{type(exc).__name__}: {str(exc)[:200]}"
            continue
        if frame.empty:
            continue
        label_cols = [c for c in frame.columns if c not in ("timestamp", "value")]
        rows = frame[label_cols].to_dict("records") if label_cols else [{}] * len(frame)
        names = [
            legend(str(q.legend), {k: str(v) for k, v in row.items() if pd.notna(v)})
            for row in rows
        ]
        # Targets of one panel may share a legend ("value"): the ref keeps them apart.
        frame["series"] = [
            n if str(q.legend) or str(q.ref) == "A" else f"{q.ref}: {n}" for n in names
        ]
        frame["dashboard"], frame["panel_id"], frame["ref"] = key
        frames.append(frame[["dashboard", "panel_id", "ref", "series", "timestamp", "value"]])
    data = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["dashboard", "panel_id", "ref", "series", "timestamp", "value"])
    )
    if not isinstance(data, pd.DataFrame):
        raise DashboardError("unexpected query result shape")
    results = PanelResults(queries, data, errors, minutes)
    results.queries.attrs["elapsed_s"] = round(time.monotonic() - began, 2)
    return results
