"""The report's alert section and dashboard panels, and the index's detection latency."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
from PIL import Image

from chaos.alerting import AlertEvidence, Episode, Notification
from chaos.journal import FaultRecord, Journal, Verdict
from chaos.report import render_index, render_report
from chaos.report.observability import detection_text, unexpected_pages

T0 = 1_700_000_000.0
FAULT = (T0 + 10.0, T0 + 20.0)
LABELS = {"dependency": "postgres", "severity": "warning", "component": "agent"}


def journal(name: str = "postgres-outage", page: bool = False) -> Journal:
    ep = Episode("AgentDependencyDown", LABELS, FAULT[0] + 1.6, FAULT[1] + 1, FAULT[0] + 3.6)
    note = Notification(
        FAULT[0] + 4.7,
        "tickets",
        "firing",
        "AgentDependencyDown",
        {**LABELS, "lab": "x"},
        FAULT[0] + 3.6,
    )
    pages = ["AgentDown"] if page else []
    j = Journal(
        run_id="r1",
        experiment={"name": name, "title": "PostgreSQL outage"},
        stack={},
        started_at=T0,
        ended_at=T0 + 40,
        status="failed" if page else "passed",
        faults=[
            FaultRecord(
                0,
                "postgres down",
                "postgres",
                "down",
                0,
                10,
                started_at=FAULT[0],
                ended_at=FAULT[1],
                removed_ok=True,
            )
        ],
        verdicts=[
            Verdict(
                "alert AgentDependencyDown dependency=postgres -> tickets within 10 s",
                "alert",
                "passed",
                "fired 3.6 s after the fault started, reached tickets after 4.7 s",
                {"fired_after_s": 3.6, "notified_after_s": 4.7},
                True,
            ),
            Verdict(
                "no unexpected page",
                "alerts_quiet",
                "failed" if page else "passed",
                "unexpected page(s): AgentDown" if page else "0 unexpected pages",
                {"unexpected_pages": pages},
            ),
        ],
        alerts=AlertEvidence(
            episodes=[ep], notifications=[note], alertmanager_polls=30, settled_after_s=2.5
        ).to_dict(),
    )
    times = [T0 + i for i in range(41)]
    j.panels = [
        {
            "dashboard": "hcl-resilience",
            "dashboard_title": "Hotel agent: resilience",
            "panel": {
                "title": "Dependencies as the agent sees them",
                "type": "timeseries",
                "fieldConfig": {"defaults": {"unit": "short"}},
            },
            "series": [
                {
                    "legend": "postgres",
                    "times": times,
                    "values": [0.0 if FAULT[0] <= t <= FAULT[1] else 1.0 for t in times],
                }
            ],
            "errors": [],
            "windows": [
                {
                    "start": FAULT[0] + 0.8,
                    "end": FAULT[1] - 0.2,
                    "title": "chaos: postgres down",
                    "text": "run r1",
                    "tags": ["postgres", "down", "r1"],
                }
            ],
        }
    ]
    return j


def test_the_report_shows_detection_and_delivery_and_every_alert_raised(tmp_path: Path) -> None:
    page = render_report(journal(), tmp_path / "r.html").read_text()
    assert "<h2>Alerts</h2>" in page
    assert "3.6 s" in page
    assert "4.7 s" in page
    assert "Every rule alert this run raised" in page
    assert "dependency=postgres" in page
    assert "30 polls of the Alertmanager API" in page


def test_the_report_embeds_the_panels_with_the_chaos_window_shaded(tmp_path: Path) -> None:
    page = render_report(journal(), tmp_path / "r.html").read_text()
    assert "Dashboards during the run" in page
    assert "1 chaos window(s): chaos: postgres down (9 s)" in page
    # Offline: the panel is an embedded PNG, and nothing is fetched from elsewhere.
    assert not re.search(r'src="https?:', page)
    images = re.findall(
        r'alt="Hotel agent: resilience: [^"]+" src="data:image/png;base64,([^"]+)"', page
    )
    assert len(images) == 1
    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(images[0]))).convert("RGB"))
    # The chaos window's purple tint (#a352cc at 15 % over white) is on the panel.
    tint = np.array([240, 229, 247])
    assert (np.abs(pixels.astype(int) - tint).sum(axis=2) < 12).sum() > 500


def test_the_index_shows_detection_latency_and_unexpected_pages(tmp_path: Path) -> None:
    quiet, paged = journal(), journal("pms-outage", page=True)
    assert detection_text(quiet) == "AgentDependencyDown dependency=postgres 3.6 s"
    assert unexpected_pages(paged) == ["AgentDown"]
    index = render_index(
        [(quiet, tmp_path / "a.html"), (paged, tmp_path / "b.html")], tmp_path / "index.html"
    ).read_text()
    assert "unexpected pages across 2 runs: 1" in index
    assert "AgentDependencyDown dependency=postgres 3.6 s" in index
    assert "<td>AgentDown</td>" in index
