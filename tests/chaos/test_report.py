"""HTML reports of experiment journals: verdicts, escaping, charts, the index, loading."""

from __future__ import annotations

import base64
import html
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.patches import Rectangle
from PIL import Image

from chaos.exceptions import ChaosError
from chaos.report import load_journal, render_index, render_report
from chaos.report.charts import (
    Skipped,
    breaker_chart,
    counter_increase,
    fallback_chart,
    hit_rate_chart,
    latency_chart,
    retries_chart,
    run_data,
)

T0 = 1_700_000_000.0  # run start
FAULT = (T0 + 10.0, T0 + 20.0)  # postgres down for 10 s after a 10 s baseline
END = T0 + 35.0
IMG = re.compile(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"')

EXPECTATIONS = [
    (
        "breaker_transitions(audit)",
        "breaker_transitions",
        "audit breaker went closed>open -> open>half-open -> half-open>closed",
    ),
    ("fallback_writes", "fallback_writes", "audit fallback writes = 55 within [1, inf]"),
    (
        "fallback_drained",
        "fallback_drained",
        "pending back to 0 5.0 s after the fault (limit 20 s)",
    ),
    (
        "no_lost_audit_events",
        "no_lost_audit_events",
        "175 messages accepted = 175 audit rows, no duplicates",
    ),
    ("no_5xx", "no_5xx", "0 of 175 guest requests failed (5xx or no answer)"),
    ("p95_latency(during)", "p95_latency", "p95 during = 0.300 s (limit 1.0 s, n=50)"),
]


def _timeline(fault_start: float) -> list[list[Any]]:
    """Metric samples every 0.5 s of a PostgreSQL outage as the sampler records them."""
    rows: list[list[Any]] = []
    peak = 55.0  # fallback writes: 5 a second while the breaker keeps PostgreSQL out
    for t in (T0 + 0.5 * i for i in range(round((END - T0) / 0.5) + 1)):
        r = t - fault_start
        audit = 0 if r < 1.5 else 1 if r < 11 else 2 if r < 12 else 0
        for breaker, state in (("audit", audit), ("nlp", 0), ("pms", 0)):
            rows.append([t, "circuit_breaker_state", f"breaker={breaker}", float(state)])
        rows.append([t, "audit_circuit_breaker_state", "", float(audit)])
        for since, old, new in (
            (1.5, "closed", "open"),
            (11, "open", "half-open"),
            (12, "half-open", "closed"),
        ):
            if r >= since:  # a labelled counter appears on its first increment
                labels = f"breaker=audit,from_state={old},to_state={new}"
                rows.append([t, "circuit_breaker_transitions_total", labels, 1.0])
        # Retries of an earlier run are already counted: only the increase may be drawn.
        rows.append([t, "retry_attempts_total", "operation=pms_get,outcome=success", 40.0])
        if r >= 0.5:
            rows.append(
                [
                    t,
                    "retry_attempts_total",
                    "operation=audit_write,outcome=failure",
                    float(min(3, int(r * 2))),
                ]
            )
        rows.append([t, "session_save_retries_total", "", 0.0])
        written = 5 * (min(max(r, 0.5), 11.5) - 0.5)
        rows.append([t, "audit_fallback_writes_total", "", 7.0 + round(written)])
        pending = round(written) if r < 12 else max(0.0, peak - 20 * (r - 12))
        rows.append([t, "audit_fallback_pending", "", float(pending)])
        elapsed = t - T0
        rows.append([t, "pms_cache_hits_total", "kind=availability", 100.0 + int(3 * elapsed)])
        rows.append([t, "pms_cache_misses_total", "kind=availability", 30.0 + int(elapsed)])
        rows.append([t, "dependency_up", "dependency=postgres", 0.0 if 0 <= r < 10 else 1.0])
    return rows


def _load(fault: tuple[float, float]) -> list[list[Any]]:
    """One guest request every 0.2 s; every other one during the fault is degraded and slower."""
    rows: list[list[Any]] = []
    for i, t in enumerate(T0 + 0.1 + 0.2 * k for k in range(round((END - T0) / 0.2))):
        during = fault[0] <= t <= fault[1]
        degraded = during and i % 2 == 0
        latency = 0.3 if degraded else 0.05 + 0.01 * (i % 5)
        rows.append([t, 200, latency, degraded, "faq"])
    return rows


def build_journal(
    *,
    status: str = "passed",
    failed: tuple[int, ...] = (),
    faults: list[tuple[float, float]] | None = None,
    load: bool = True,
    name: str = "postgres-outage",
) -> dict[str, Any]:
    """A realistic journal of a PostgreSQL outage run; ``failed`` marks expectations as failed."""
    spans = faults or [FAULT]
    probe = {
        "probe": "guest-gets-an-answer",
        "ok": True,
        "detail": "message -> 200 in 0.05 s (degraded=False)",
    }
    return {
        "journal_version": 1,
        "generator": "chaos",
        "run_id": "abc123def456",
        "experiment": {
            "name": name,
            "title": "PostgreSQL outage with fallback and replay",
            "purpose": "With PostgreSQL down the audit breaker opens.",
            "path": f"chaos/experiments/{name}.yaml",
            "spec": {"name": name, "expectations": [{"no_5xx": {}}]},
        },
        "stack": {"agent": "http://127.0.0.1:8000"},
        "started_at": T0,
        "ended_at": END + 0.4,
        "status": status,
        "error": None,
        "steady_state": {
            "before": [{**probe, "phase": "before", "at": T0 - 1.0}],
            "during": [{**probe, "phase": "during", "at": T0 + 10 + i} for i in range(10)],
            "after": [{**probe, "phase": "after", "at": END + 0.2}],
        },
        "method": [
            {
                "fault": "postgres: down",
                "proxy": "postgres",
                "type": "down",
                "started_at": start,
                "ended_at": end,
                "toxics": [],
            }
            for start, end in spans
        ],
        "rollbacks": [
            {"action": "remove postgres: down", "ok": True, "toxics": []},
            {"action": "verify proxy clean", "ok": True, "detail": ""},
        ],
        "expectations": [
            {"expectation": e, "kind": k, "passed": i not in failed, "detail": d, "observed": {}}
            for i, (e, k, d) in enumerate(EXPECTATIONS)
        ],
        "figures": {
            "requests": 175,
            "errors_5xx": 0,
            "degraded": 25,
            "audit_rows": 175,
            "fault_duration_s": 10.0,
            "p50_during_s": 0.07,
            "p95_during_s": 0.3,
            "p95_after_s": None,
            "audit_fallback_writes_total": 55.0,
        },
        "marks": [{"t": T0, "label": "baseline"}],
        "fault_window": [spans[0][0], spans[-1][1]],
        "timeline": _timeline(spans[0][0]),
        "load": _load((spans[0][0], spans[-1][1])) if load else [],
    }


def _without_charts(journal: dict[str, Any]) -> dict[str, Any]:
    """The journal without timeline or traffic: its report renders fast, every chart skipped."""
    return {**journal, "timeline": [], "load": []}


def _rows(page: str) -> list[list[str]]:
    """The text of every table cell, row by row, with each link's href as a leading cell."""

    class Rows(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.rows: list[list[str]] = []
            self.cell: list[str] | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "tr":
                self.rows.append([])
            elif tag == "td":
                self.cell = []
            elif tag == "a" and self.rows:
                self.rows[-1].append(f"href={dict(attrs)['href']}")

        def handle_endtag(self, tag: str) -> None:
            if tag == "td" and self.cell is not None:
                self.rows[-1].append("".join(self.cell).strip())
                self.cell = None

        def handle_data(self, data: str) -> None:
            if self.cell is not None:
                self.cell.append(data)

    parser = Rows()
    parser.feed(page)
    return [r for r in parser.rows if r]


@pytest.fixture(scope="module")
def passed_page(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = render_report(build_journal(), tmp_path_factory.mktemp("r") / "passed.html")
    return out.read_text(encoding="utf-8")


def test_header_shows_green_passed_verdict_title_and_duration(passed_page: str) -> None:
    assert re.search(r'class="badge verdict" style="background:#1a7f37">PASSED<', passed_page)
    assert "<h1>PostgreSQL outage with fallback and replay</h1>" in passed_page
    assert "abc123def456" in passed_page
    assert "35.4 s" in passed_page
    assert "6 of 6 expectations met" in passed_page


def test_failed_report_lists_every_expectation_with_its_result(tmp_path: Path) -> None:
    journal = _without_charts(build_journal(status="failed", failed=(1, 4)))
    page = render_report(journal, tmp_path / "r.html").read_text(encoding="utf-8")
    assert re.search(r'style="background:#cf222e">FAILED<', page)
    verdicts = {
        row[2]: row[0]
        for row in _rows(page)
        if len(row) == 4
        and row[0] in ("PASS", "FAIL")
        and row[2] in {k for _, k, _ in EXPECTATIONS}
    }
    assert verdicts == {
        "breaker_transitions": "PASS",
        "fallback_writes": "FAIL",
        "fallback_drained": "PASS",
        "no_lost_audit_events": "PASS",
        "no_5xx": "FAIL",
        "p95_latency": "PASS",
    }
    for _, _, detail in EXPECTATIONS:
        # Details hold '>' (closed>open), so they appear escaped.
        assert html.escape(detail) in page
    assert "4 of 6 expectations met" in page


def test_journal_text_is_escaped(tmp_path: Path) -> None:
    journal = _without_charts(build_journal(status="failed", failed=(0,)))
    journal["expectations"][0]["detail"] = 'breaker <script>alert("x")</script> stuck'
    journal["experiment"]["title"] = "Outage <b>bold</b> & co"
    journal["steady_state"]["during"][3].update(ok=False, detail="<img src=x onerror=alert(1)>")
    page = render_report(journal, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<script" not in page
    assert "breaker &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; stuck" in page
    assert "Outage &lt;b&gt;bold&lt;/b&gt; &amp; co" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<img src=x" not in page


def test_steady_state_method_and_rollbacks_are_listed(passed_page: str) -> None:
    rows = _rows(passed_page)
    # The ten probes during the method fold into one row: result, probe, checks, failures.
    assert next(r for r in rows if len(r) == 5)[:4] == ["PASS", "guest-gets-an-answer", "10", "0"]
    assert ["postgres: down", "postgres", "down", "+0.0 s", "+10.0 s", "10.0 s", ""] in rows
    assert ["PASS", "verify proxy clean", ""] in rows
    assert ["guest requests", "175"] in rows
    assert ["p95 after (s)", "n/a"] in rows


def test_report_embeds_one_png_per_chart(passed_page: str) -> None:
    assert len(re.findall(r"<img ", passed_page)) == 5
    assert len(IMG.findall(passed_page)) == 5
    assert "Skipped:" not in passed_page
    assert "http://" not in passed_page.replace("http://127.0.0.1:8000", "")


def test_embedded_png_is_a_valid_image_of_plausible_size(passed_page: str) -> None:
    data = base64.b64decode(IMG.findall(passed_page)[0], validate=True)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        width, height = image.size
        assert 600 <= width <= 2000
        assert 200 <= height <= 1000
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    # A drawn chart has lines, text and shading, not a blank canvas.
    assert colours is not None
    assert len(colours) > 50


def test_latency_chart_is_skipped_with_a_note_without_load(tmp_path: Path) -> None:
    page = render_report(build_journal(load=False), tmp_path / "r.html").read_text(encoding="utf-8")
    assert len(IMG.findall(page)) == 4
    assert page.count('class="muted skipped"') == 1
    assert "Skipped: no guest requests were recorded" in page


def test_error_journal_renders_with_every_chart_skipped(tmp_path: Path) -> None:
    journal = {
        "journal_version": 1,
        "run_id": "r1",
        "status": "error",
        "error": "proxy not clean before the run: postgres has <1> toxic",
        "experiment": {"name": "pms-latency", "title": "PMS latency", "purpose": "p"},
        "started_at": T0,
        "ended_at": T0 + 0.3,
        "steady_state": {},
        "method": [],
        "rollbacks": [],
        "expectations": [],
        "figures": {},
        "timeline": [],
        "load": [],
    }
    page = render_report(journal, tmp_path / "sub" / "r.html").read_text(encoding="utf-8")
    assert re.search(r'style="background:#8250df">ERROR<', page)
    assert "postgres has &lt;1&gt; toxic" in page
    assert IMG.findall(page) == []
    assert page.count('class="muted skipped"') == 5
    assert "No expectations were judged" in page


def test_each_fault_is_shaded_relative_to_the_first_fault_start() -> None:
    flapping = [(T0 + 10.0, T0 + 15.0), (T0 + 25.0, T0 + 30.0)]
    run = run_data(build_journal(faults=flapping))
    for chart in (breaker_chart, retries_chart, fallback_chart, latency_chart, hit_rate_chart):
        fig = chart(run)
        assert not isinstance(fig, Skipped)
        spans = [
            (p.get_x(), p.get_x() + p.get_width())
            for p in fig.axes[0].patches
            if isinstance(p, Rectangle)
        ]
        assert spans == [pytest.approx((0.0, 5.0)), pytest.approx((15.0, 20.0))]
        assert fig.axes[0].get_xlabel() == "time since first fault start (s)"


def test_breaker_chart_steps_closed_open_half_open_closed() -> None:
    fig = breaker_chart(run_data(build_journal()))
    assert not isinstance(fig, Skipped)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["closed", "open", "half-open"]
    audit = next(line for line in ax.get_lines() if line.get_label() == "audit")
    x, y = np.asarray(audit.get_xdata()), np.round(np.asarray(audit.get_ydata()))
    changes = [(float(x[i]), int(y[i])) for i in range(1, len(y)) if y[i] != y[i - 1]]
    assert changes == [(1.5, 1), (11.0, 2), (12.0, 0)]
    assert {line.get_label() for line in ax.get_lines()} == {"audit", "nlp", "pms"}


def test_counters_are_drawn_as_increase_not_raw_values() -> None:
    run = run_data(build_journal())
    fig = retries_chart(run)
    assert not isinstance(fig, Skipped)
    lines = {line.get_label(): np.asarray(line.get_ydata()) for line in fig.axes[0].get_lines()}
    assert lines["retry: pms_get"].max() == 0.0  # raw value 40 all along
    assert lines["retry: audit_write"][0] == 0.0
    assert lines["retry: audit_write"][-1] == 3.0
    fig = fallback_chart(run)
    assert not isinstance(fig, Skipped)
    lines = {line.get_label(): np.asarray(line.get_ydata()) for line in fig.axes[0].get_lines()}
    writes = lines["fallback writes (cumulative)"]
    assert (writes[0], writes[-1]) == (0.0, 55.0)  # raw 7 -> 62
    assert lines["pending replay"].max() > 0
    assert lines["pending replay"][-1] == 0.0


def test_counter_increase_survives_a_restart() -> None:
    journal = build_journal()
    journal["timeline"] = [
        [T0 + i, "audit_fallback_writes_total", "", v]
        for i, v in enumerate([10.0, 12.0, 15.0, 2.0, 4.0])
    ]
    increase = counter_increase(run_data(journal), "audit_fallback_writes_total")
    # 10 -> 15 is +5; after the restart the counter counts from 0: +2, then +2.
    assert increase.iloc[:, 0].tolist() == [0.0, 2.0, 5.0, 7.0, 9.0]


def test_latency_chart_colours_each_outcome() -> None:
    journal = build_journal()
    journal["load"][60][1] = 503
    journal["load"][61][1] = 0
    journal["load"][62][1] = 404
    fig = latency_chart(run_data(journal))
    assert not isinstance(fig, Skipped)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    degraded = sum(1 for row in journal["load"] if row[3] and row[1] == 200)
    ok = len(journal["load"]) - degraded - 3
    assert f"ok ({ok})" in labels
    assert f"degraded ({degraded})" in labels
    assert "5xx / no answer (2)" in labels
    assert "4xx (1)" in labels
    assert any(label.startswith("rolling p95") for label in labels)


def test_hit_rate_chart_tracks_the_rate_against_a_dashed_target() -> None:
    fig = hit_rate_chart(run_data(build_journal()))
    assert not isinstance(fig, Skipped)
    rate, target = fig.axes[0].get_lines()
    values = np.asarray(rate.get_ydata(), dtype=float)
    assert np.nanmean(values[10:]) == pytest.approx(75.0, abs=3.0)  # 3 hits per miss
    assert target.get_linestyle() == "--"
    assert np.asarray(target.get_ydata()).tolist() == [70.0, 70.0]


def test_hit_rate_chart_is_skipped_without_lookups() -> None:
    journal = build_journal()
    journal["timeline"] = [r for r in journal["timeline"] if not r[1].startswith("pms_cache")]
    assert isinstance(hit_rate_chart(run_data(journal)), Skipped)


def test_index_links_each_report_with_its_status(tmp_path: Path) -> None:
    runs = tmp_path / "reports" / "experiments"
    passed = render_report(_without_charts(build_journal()), runs / "postgres-outage.html")
    failed_journal = build_journal(status="failed", failed=(2,), name="redis-outage")
    failed = render_report(_without_charts(failed_journal), runs / "redis-outage.html")
    aborted = {**build_journal(status="aborted", name="combined"), "expectations": []}
    index = render_index(
        [(build_journal(), passed), (failed_journal, failed), (aborted, runs / "combined.html")],
        tmp_path / "reports" / "index.html",
    )
    page = index.read_text(encoding="utf-8")
    rows = _rows(page)
    assert [r[:4] for r in rows] == [
        [
            "href=experiments/postgres-outage.html",
            "postgres-outage",
            "PostgreSQL outage with fallback and replay",
            "PASSED",
        ],
        [
            "href=experiments/redis-outage.html",
            "redis-outage",
            "PostgreSQL outage with fallback and replay",
            "FAILED",
        ],
        [
            "href=experiments/combined.html",
            "combined",
            "PostgreSQL outage with fallback and replay",
            "ABORTED",
        ],
    ]
    assert [r[-1] for r in rows] == ["0 of 6", "1 of 6", "0 of 0"]
    assert all(r[-2] == "35.4 s" for r in rows)
    assert all(r[-3] == "2023-11-14 22:13:20 UTC" for r in rows)
    assert "1 passed / 1 failed, 1 aborted" in page
    for href in (r[0].removeprefix("href=") for r in rows[:2]):
        assert (index.parent / href).is_file()


def test_load_journal_round_trips(tmp_path: Path) -> None:
    journal = build_journal()
    path = tmp_path / "run.json"
    path.write_text(json.dumps(journal))
    assert load_journal(path) == json.loads(json.dumps(journal))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read journal"),
        (b"\xff\xfe not utf-8", "cannot read journal"),
        (b'{"journal_version": 1,', "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"run_id": "x", "status": "passed"}', "no journal_version"),
        (b'{"journal_version": "one"}', "invalid journal_version"),
    ],
)
def test_load_journal_rejects_what_is_not_a_journal(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "run.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ChaosError, match=message) as info:
        load_journal(path)
    assert str(path) in str(info.value)
