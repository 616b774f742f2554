"""Chaos windows on every dashboard, as Grafana draws them, and the dashboard lint."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from matplotlib.image import imread

from chaos.dashboards.lint import lint, ranges
from chaos.dashboards.promql import load_dashboards
from chaos.dashboards.render import PrometheusClient, render_dashboards
from chaos.dashboards.windows import (
    CHAOS_ANNOTATION,
    Region,
    chaos_annotation,
    chaos_regions,
    regions,
)

DASHBOARDS = load_dashboards()
BY_UID = {d["uid"]: d for d in DASHBOARDS}


def series(labels: dict[str, str], points: list[tuple[float, float]]) -> dict[str, Any]:
    return {"metric": labels, "values": [[t, str(v)] for t, v in points]}


# -- the annotation on every dashboard ------------------------------------------------------------


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda d: d["uid"])
def test_every_dashboard_has_a_toggleable_chaos_window_annotation(
    dashboard: dict[str, Any],
) -> None:
    annotation = chaos_annotation(dashboard)
    assert annotation is not None
    assert annotation["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    assert annotation["enable"] is True  # on by default
    assert annotation["hide"] is False  # its toggle shows in the dashboard's controls
    assert annotation["step"] == "1s"
    assert "chaoslab_proxy_toxic_active" in annotation["expr"]
    assert "chaoslab_proxy_disabled" in annotation["expr"]
    assert annotation["titleFormat"] == "chaos: {{proxy}} {{type}}"
    assert "run_id" in annotation["tagKeys"].split(",")


def test_each_dashboard_shows_only_the_proxies_it_is_about() -> None:
    """Chaos Mesh's annotations land on every dashboard; ours are scoped per dashboard."""
    scopes = {uid: chaos_annotation(d)["expr"] for uid, d in BY_UID.items()}  # type: ignore[index]
    assert 'proxy=~"redis|postgres"' in scopes["hcl-datastores"]
    assert 'proxy=~"pms|redis"' in scopes["hcl-pms-cache"]
    assert "proxy=~" not in scopes["hcl-resilience"]  # the agent depends on all three


# -- regions, as Grafana builds them -----------------------------------------------------------


def test_samples_one_step_apart_make_one_region_and_a_gap_starts_another() -> None:
    labels = {"proxy": "redis", "type": "latency", "run_id": "r1", "stream": "downstream"}
    points = [(100, 1), (101, 1), (102, 1), (106, 1), (107, 1)]
    found = regions(
        [series(labels, points)], 1.0, title_format="chaos: {{proxy}} {{type}}",
        text_format="run {{run_id}} {{stream}}", tag_keys="proxy,type,run_id",
    )  # fmt: skip
    assert found == [
        Region(100, 102, "chaos: redis latency", "run r1 downstream", ("redis", "latency", "r1")),
        Region(106, 107, "chaos: redis latency", "run r1 downstream", ("redis", "latency", "r1")),
    ]


def test_zero_and_nan_are_not_active_and_series_never_merge() -> None:
    a = series({"proxy": "pms", "run_id": "a"}, [(10, 1), (11, 0), (12, float("nan")), (13, 1)])
    b = series({"proxy": "pms", "run_id": "b"}, [(14, 1), (15, 1)])
    found = regions([a, b], 1.0, title_format="{{run_id}}")
    assert [(r.title, r.start, r.end) for r in found] == [
        ("a", 10, 10),
        ("a", 13, 13),
        ("b", 14, 15),  # one step after run a's last sample, yet its own region
    ]


def test_chaos_regions_query_the_annotation_with_its_variables_and_step() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        result = [series({"proxy": "redis", "type": "down", "run_id": "x"}, [(5, 1), (6, 1)])]
        return httpx.Response(
            200, json={"status": "success", "data": {"resultType": "matrix", "result": result}}
        )

    client = PrometheusClient("http://prom.test", transport=httpx.MockTransport(handle))
    found = chaos_regions(client, BY_UID["hcl-datastores"], 0, 60, step="500ms")
    assert [(r.title, r.start, r.end) for r in found] == [("chaos: redis down", 5, 6)]
    (request,) = seen
    assert request.url.params["step"] == "1s"  # the annotation's step is a minimum
    assert 'proxy=~"redis|postgres"' in request.url.params["query"]


def test_the_renderer_shades_the_chaos_windows(tmp_path: Path) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        start = float(request.url.params["start"])
        if "chaoslab_proxy" in request.url.params["query"]:
            values = [(start + 20 + i, 1) for i in range(30)]
            result = [series({"proxy": "redis", "type": "down", "run_id": "x"}, values)]
        else:
            result = [series({"instance": "a"}, [(start + i, 1.0) for i in range(0, 60, 2)])]
        return httpx.Response(
            200, json={"status": "success", "data": {"resultType": "matrix", "result": result}}
        )

    import chaos.dashboards.render as render

    original = render.PrometheusClient.__init__

    def fake(self: PrometheusClient, base_url: str, *args: Any, **kw: Any) -> None:
        original(self, base_url, transport=httpx.MockTransport(handle))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(render.PrometheusClient, "__init__", fake)
        (png,) = render_dashboards("http://prom.test", tmp_path, range_s=60, step="1s",
                                   only={"hcl-datastores"})  # fmt: skip
    pixels = (imread(png)[:, :, :3] * 255).astype(int)
    tint = np.array([241, 229, 247])  # #a352cc at 15 % over white
    assert (np.abs(pixels - tint).sum(axis=2) < 12).sum() > 5000


# -- the lint -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda d: d["uid"])
def test_the_shipped_dashboards_pass_the_lint(dashboard: dict[str, Any]) -> None:
    assert lint(dashboard) == []


def test_the_lint_finds_each_kind_of_problem() -> None:
    broken = copy.deepcopy(BY_UID["hcl-resilience"])
    panel = next(p for p in broken["panels"] if p["title"] == "Session save retries")
    panel["targets"][0]["expr"] = panel["targets"][0]["expr"].replace("$__rate_interval", "5m")
    del panel["fieldConfig"]["defaults"]["unit"]
    other = next(p for p in broken["panels"] if p["title"] == "Breaker states")
    other["datasource"] = {"type": "prometheus", "uid": "prometheus"}
    broken["annotations"]["list"] = [
        a for a in broken["annotations"]["list"] if a.get("name") != CHAOS_ANNOTATION
    ]
    problems = lint(broken)
    assert "hcl-resilience/Session save retries: no unit" in problems
    assert (
        "hcl-resilience/Session save retries/A: rate(...[5m]) should use [$__rate_interval]"
        in problems
    )
    assert "hcl-resilience/Breaker states: data source is not ${datasource}" in problems
    assert "hcl-resilience: needs exactly one 'Chaos windows' annotation" in problems


def test_ranges_knows_which_function_each_range_belongs_to() -> None:
    expr = 'sum(rate(a{x="[1m]"}[$__rate_interval])) / increase(b[$__range]) + max_over_time(c[5m])'
    assert ranges(expr) == [
        ("rate", "$__rate_interval"),
        ("increase", "$__range"),
        ("max_over_time", "5m"),
    ]
