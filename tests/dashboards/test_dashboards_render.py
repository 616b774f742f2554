"""The dashboard renderer against a fake Prometheus API (httpx.MockTransport)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import httpx
import pytest
from matplotlib.image import imread

from chaos.dashboards.draw import format_value
from chaos.dashboards.promql import load_dashboards, panel_queries
from chaos.dashboards.render import (
    PrometheusClient,
    collect_panels,
    legend,
    main,
    render_dashboards,
)

OVERVIEW = next(d for d in load_dashboards() if d["uid"] == "hcl-agent-overview")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def fake_prometheus(seen: list[str]) -> httpx.MockTransport:
    """Answers every range query with two series, except queries naming `alerts_sent`."""

    def handle(request: httpx.Request) -> httpx.Response:
        query = request.url.params["query"]
        seen.append(query)
        if "alerts_sent_total" in query:
            return httpx.Response(
                200, json={"status": "success", "data": {"resultType": "matrix", "result": []}}
            )
        if "ALERTS" in query:
            return httpx.Response(
                400, json={"status": "error", "errorType": "bad_data", "error": "parse error"}
            )
        start = float(request.url.params["start"])
        values = [[start + 15 * i, str(i / 10)] for i in range(5)] + [[start + 75, "NaN"]]
        result = [
            {"metric": {"endpoint": "/api/v1/messages", "status_code": "200"}, "values": values},
            {"metric": {"endpoint": "/health/live", "status_code": "200"}, "values": values},
        ]
        return httpx.Response(
            200, json={"status": "success", "data": {"resultType": "matrix", "result": result}}
        )

    return httpx.MockTransport(handle)


def test_collect_panels_substitutes_variables_and_sorts_out_results() -> None:
    seen: list[str] = []
    client = PrometheusClient("http://prometheus.test", transport=fake_prometheus(seen))
    panels = collect_panels(
        client, OVERVIEW, start=1000.0, end=1900.0, step="15s", rate_interval="2m"
    )
    assert len(seen) == len(panel_queries(OVERVIEW))
    assert all("$" not in q for q in seen)
    assert any('job="agent"' in q and "[2m]" in q for q in seen)
    by_title = {p.panel["title"]: p for p in panels}
    requests = by_title["Requests by endpoint and status"]
    assert [s.legend for s in requests.series] == ["/api/v1/messages 200", "/health/live 200"]
    assert math.isnan(requests.series[0].values[-1])
    assert requests.series[0].last() == pytest.approx(0.4)
    assert by_title["Alerts sent by the agent"].empty_targets
    assert "parse error" in by_title["Firing alerts by severity"].errors[0]


def test_legend_falls_back_to_the_labels() -> None:
    assert legend("{{kind}} hits", {"kind": "availability"}) == "availability hits"
    assert legend("", {"__name__": "up", "job": "agent"}) == "job=agent"
    assert legend("", {}) == "value"


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (0.734, "percentunit", "73.4 %"),
        (0.25, "s", "250 ms"),
        (0.000004, "s", "4 µs"),
        (2.5, "s", "2.50 s"),
        (3 * 1024 * 1024, "bytes", "3.0 MiB"),
        (12.5, "reqps", "12.50 req/s"),
        (2500, "short", "2.5k"),
        (math.nan, "s", "no value"),
        (None, "short", "no value"),
    ],
)
def test_format_value(value: float | None, unit: str, text: str) -> None:
    assert format_value(value, unit) == text


def test_main_strict_fails_but_still_draws_when_prometheus_is_unreachable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from chaos.stack.processes import free_port

    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    status = main(
        ["--prometheus", url, "--out", str(tmp_path), "--only", "hcl-pms-cache", "--strict"]
    )
    assert status == 1
    assert "hcl-pms-cache/" in capsys.readouterr().err
    png = tmp_path / "hcl-pms-cache.png"
    assert png.read_bytes().startswith(PNG_MAGIC)


def test_main_rejects_a_non_positive_range(tmp_path: Path) -> None:
    assert main(["--prometheus", "http://x", "--out", str(tmp_path), "--range", "0"]) == 2


def test_render_without_strict_draws_every_requested_dashboard(tmp_path: Path) -> None:
    from chaos.stack.processes import free_port

    paths = render_dashboards(
        f"http://127.0.0.1:{free_port()}", tmp_path, only={"hcl-datastores", "hcl-resilience"}
    )
    assert sorted(p.name for p in paths) == ["hcl-datastores.png", "hcl-resilience.png"]
    for path in paths:
        image: Any = imread(path)
        assert image.shape[1] > 1000
        assert image.shape[0] > 800
