"""HTML reports of experiment journals: verdicts, escaping, charts, the index, loading."""

from __future__ import annotations

import base64
import html
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from matplotlib.patches import Rectangle
from PIL import Image

from chaos.exceptions import ChaosError
from chaos.figures.base import Skipped
from chaos.figures.runs import (
    breaker_chart,
    fallback_chart,
    hit_rate_chart,
    increase,
    latency_chart,
    retries_chart,
)
from chaos.journal import FaultRecord, Journal, ProbeResult, Rollback, Verdict
from chaos.metrics import Scrape, Timeline, parse_labels
from chaos.report import render_index, render_report
from chaos.traffic import Sample

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
        "all 175 acknowledged message ids in PostgreSQL exactly once",
    ),
    ("no_5xx", "no_5xx", "0 of 175 guest requests failed (api)"),
    ("p95_latency(during)", "p95_latency", "p95 during = 0.300 s (limit 1.0 s, n=50)"),
]


def _readings(fault_start: float) -> list[tuple[float, dict[str, float]]]:
    """The agent's metrics every 0.5 s of a PostgreSQL outage, as ``key -> value``."""
    out = []
    peak = 55.0  # fallback writes: 5 a second while the breaker keeps PostgreSQL out
    for t in (T0 + 0.5 * i for i in range(round((END - T0) / 0.5) + 1)):
        r = t - fault_start
        audit = 0 if r < 1.5 else 1 if r < 11 else 2 if r < 12 else 0
        row: dict[str, float] = {}
        for breaker, state in (("audit", audit), ("pms", 0)):
            row[f"circuit_breaker_state|breaker={breaker}"] = float(state)
        for since, old, new in ((1.5, "closed", "open"), (11, "open", "half-open"),
                                (12, "half-open", "closed")):  # fmt: skip
            if r >= since:  # a labelled counter appears on its first increment
                key = f"breaker=audit,from_state={old},to_state={new}"
                row[f"circuit_breaker_transitions_total|{key}"] = 1.0
        # Retries of an earlier run are already counted: only the increase may be drawn.
        row["retry_attempts_total|operation=pms.get,outcome=success"] = 40.0
        if r >= 0.5:
            key = "retry_attempts_total|operation=audit.write,outcome=failure"
            row[key] = float(min(3, int(r * 2)))
        row["session_save_retries_total|"] = 0.0
        written = 5 * (min(max(r, 0.5), 11.5) - 0.5)
        row["audit_fallback_writes_total|"] = 7.0 + round(written)
        pending = round(written) if r < 12 else max(0.0, peak - 20 * (r - 12))
        row["audit_fallback_pending|"] = float(pending)
        elapsed = t - T0
        row["pms_cache_hits_total|kind=availability"] = 100.0 + int(3 * elapsed)
        row["pms_cache_misses_total|kind=availability"] = 30.0 + int(elapsed)
        out.append((t, row))
    return out


def timeline(fault_start: float) -> Timeline:
    pages = []
    declared = frozenset({"circuit_breaker_state", "circuit_breaker_transitions_total",
                          "retry_attempts_total", "session_save_retries_total",
                          "audit_fallback_writes_total", "audit_fallback_pending",
                          "pms_cache_hits_total", "pms_cache_misses_total"})  # fmt: skip
    for t, row in _readings(fault_start):
        samples: dict[str, list[tuple[dict[str, str], float]]] = {}
        for key, value in row.items():
            name, labels = key.split("|")
            samples.setdefault(name, []).append((parse_labels(labels), value))
        pages.append((t, Scrape(samples, declared)))
    return Timeline.of(pages)


def _samples(fault: tuple[float, float]) -> list[Sample]:
    """One guest request every 0.2 s; every other one during the fault is degraded and slower."""
    out = []
    for i, t in enumerate(T0 + 0.1 + 0.2 * k for k in range(round((END - T0) / 0.2))):
        during = fault[0] <= t <= fault[1]
        degraded = during and i % 2 == 0
        latency = 0.3 if degraded else 0.05 + 0.01 * (i % 5)
        out.append(Sample(t, t, t + latency, 200, "api", f"m{i}", degraded=degraded, intent="faq"))
    return out


def build_journal(
    *,
    status: str = "passed",
    failed: tuple[int, ...] = (),
    inconclusive: tuple[int, ...] = (),
    faults: list[tuple[float, float]] | None = None,
    load: bool = True,
    name: str = "postgres-outage",
    charts: bool = True,
) -> Journal:
    """A realistic journal of a PostgreSQL outage run; ``failed`` marks expectations failed."""
    spans = faults or [FAULT]

    def probe(phase: str, at: float) -> ProbeResult:
        return ProbeResult("guest-gets-an-answer", phase, True,
                           "message -> 200 in 0.05 s (degraded=False)", at)  # fmt: skip

    verdicts = [
        Verdict(e, k, "failed" if i in failed else "inconclusive" if i in inconclusive
                else "passed", d, {}, proves_fault=k in ("breaker_transitions", "fallback_writes"))
        for i, (e, k, d) in enumerate(EXPECTATIONS)
    ]  # fmt: skip
    return Journal(
        run_id="abc123def456",
        experiment={
            "name": name,
            "title": "PostgreSQL outage with fallback and replay",
            "purpose": "With PostgreSQL down the audit breaker opens.",
            "path": f"chaos/experiments/{name}.yaml",
            "spec": {"name": name, "expectations": [{"no_5xx": {}}]},
        },
        stack={"agent": "http://127.0.0.1:8000"},
        started_at=T0,
        ended_at=END + 0.4,
        status=status,
        load={
            "kind": "open",
            "rate_per_s": 5.0,
            "guests": 10,
            "whatsapp_share": 0.0,
            "stays": 30,
        },
        steady_state={
            "before": [probe("before", T0 - 1.0)],
            "during": [probe("during", T0 + 10 + i) for i in range(10)],
            "after": [probe("after", END + 0.2)],
        },
        faults=[
            FaultRecord(
                i,
                "postgres down",
                "postgres",
                "down",
                start - spans[0][0],
                end - spans[0][0],
                planned_start_at=start - 0.004,
                planned_end_at=end - 0.002,
                started_at=start,
                ended_at=end,
                removed_ok=True,
                removal_detail="gone from the proxy",
            )
            for i, (start, end) in enumerate(spans)
        ],
        rollbacks=[
            Rollback("remove postgres down", True, "gone from the proxy"),
            Rollback("verify proxy clean", True, ""),
        ],
        verdicts=verdicts,
        samples=_samples((spans[0][0], spans[-1][1])) if load and charts else [],
        timeline=timeline(spans[0][0]) if charts else Timeline(),
        audit={"acknowledged": 175, "present": 175, "lost": [], "duplicated": {}, "error": ""},
        figures={
            "requests": 175,
            "failed": 0,
            "degraded": 25,
            "fault_duration_s": 10.0,
            "p50_during_s": 0.07,
            "p95_during_s": 0.3,
            "p95_after_s": None,
            "audit_fallback_writes_total": 55.0,
        },
    )


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
    assert "6 passed, 0 failed, 0 inconclusive of 6 expectations" in passed_page
    assert "open model, 5.0 messages/s from 10 guests" in passed_page


def test_report_lists_every_verdict_passed_failed_or_inconclusive(tmp_path: Path) -> None:
    journal = build_journal(status="failed", failed=(1, 4), inconclusive=(5,), charts=False)
    page = render_report(journal, tmp_path / "r.html").read_text(encoding="utf-8")
    assert re.search(r'style="background:#cf222e">FAILED<', page)
    verdicts = {
        row[1]: (row[0], row[2])
        for row in _rows(page)
        if len(row) == 4 and row[0] in ("PASS", "FAIL", "INCONCLUSIVE")
    }
    verdicts.pop("guest-gets-an-answer")  # the steady-state probe tables share the shape
    assert verdicts == {
        "breaker_transitions(audit)": ("PASS", "yes"),
        "fallback_writes": ("FAIL", "yes"),
        "fallback_drained": ("PASS", ""),
        "no_lost_audit_events": ("PASS", ""),
        "no_5xx": ("FAIL", ""),
        "p95_latency(during)": ("INCONCLUSIVE", ""),
    }
    for _, _, detail in EXPECTATIONS:
        # Details hold '>' (closed>open), so they appear escaped.
        assert html.escape(detail) in page
    assert "3 passed, 2 failed, 1 inconclusive of 6 expectations" in page
    # The header says why, with the first expectation that did not pass.
    assert "fallback_writes: audit fallback writes = 55" in page


def test_inconclusive_runs_have_their_own_colour(tmp_path: Path) -> None:
    journal = build_journal(status="inconclusive", inconclusive=(3,), charts=False)
    page = render_report(journal, tmp_path / "r.html").read_text(encoding="utf-8")
    assert re.search(r'style="background:#6e7781">INCONCLUSIVE<', page)


def test_journal_text_is_escaped(tmp_path: Path) -> None:
    journal = build_journal(status="failed", failed=(0,), charts=False)
    v = journal.verdicts[0]
    journal.verdicts[0] = Verdict(v.expectation, v.kind, "failed",
                                  'breaker <script>alert("x")</script> stuck')  # fmt: skip
    journal.experiment["title"] = "Outage <b>bold</b> & co"
    journal.steady_state["during"][3] = ProbeResult(
        "guest-gets-an-answer", "during", False, "<img src=x onerror=alert(1)>", T0 + 13
    )
    journal.timeline.fail(T0 + 12, "agent", "<svg onload=alert(2)>")
    page = render_report(journal, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<script" not in page
    assert "breaker &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; stuck" in page
    assert "Outage &lt;b&gt;bold&lt;/b&gt; &amp; co" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<img src=x" not in page and "<svg" not in page


def test_method_rollbacks_and_evidence_are_listed(passed_page: str) -> None:
    rows = _rows(passed_page)
    # The ten probes during the method fold into one row: result, probe, checks, failures.
    assert next(r for r in rows if len(r) == 5)[:4] == ["PASS", "guest-gets-an-answer", "10", "0"]
    fault = next(r for r in rows if r and r[0] == "postgres down")
    # Confirmed start and end relative to the first fault start, and how late each was.
    assert fault[1:5] == ["0-10 s", "+0.0 s", "+10.0 s", "+4 ms / +2 ms"]
    assert fault[-1] == "gone from the proxy"
    assert ["PASS", "verify proxy clean", ""] in rows
    assert ["guest requests", "175"] in rows
    assert ["p95 after (s)", "n/a"] in rows
    assert "None: every reading succeeded." in passed_page
    assert "175 acknowledged message ids; 175 found in PostgreSQL; 0 lost; 0 duplicated" in (
        passed_page
    )


def test_failed_readings_and_lost_messages_are_shown(tmp_path: Path) -> None:
    journal = build_journal(status="failed", failed=(3,), charts=False)
    journal.timeline.fail(T0 + 12, "agent", "http://127.0.0.1:8000/metrics: ReadTimeout")
    journal.audit = {"acknowledged": 175, "present": 173, "lost": ["m7", "m9"],
                     "duplicated": {"m3": 2}, "error": ""}  # fmt: skip
    page = render_report(journal, tmp_path / "r.html").read_text(encoding="utf-8")
    assert ["+2.0 s", "agent", "http://127.0.0.1:8000/metrics: ReadTimeout"] in _rows(page)
    assert "Lost: <code>m7, m9</code>" in page
    assert "Duplicated: <code>m3 x2</code>" in page


def test_report_embeds_one_png_per_chart(passed_page: str) -> None:
    assert len(re.findall(r"<img ", passed_page)) == 6
    assert len(IMG.findall(passed_page)) == 6
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


def test_traffic_charts_are_skipped_with_a_note_without_load(tmp_path: Path) -> None:
    page = render_report(build_journal(load=False), tmp_path / "r.html").read_text(encoding="utf-8")
    assert len(IMG.findall(page)) == 4
    assert page.count('class="muted skipped"') == 2
    assert "Skipped: no guest requests were recorded" in page


def test_error_journal_renders_with_every_chart_skipped(tmp_path: Path) -> None:
    journal = Journal(
        run_id="r1",
        experiment={"name": "pms-latency", "title": "PMS latency", "purpose": "p"},
        stack={},
        started_at=T0,
        ended_at=T0 + 0.3,
        status="error",
        error="proxy not clean before the run: postgres has <1> toxic",
    )
    page = render_report(journal, tmp_path / "sub" / "r.html").read_text(encoding="utf-8")
    assert re.search(r'style="background:#8250df">ERROR<', page)
    assert "postgres has &lt;1&gt; toxic" in page
    assert IMG.findall(page) == []
    assert page.count('class="muted skipped"') == 6
    assert "No expectations were judged" in page


def test_each_fault_is_shaded_relative_to_the_first_fault_start() -> None:
    flapping = [(T0 + 10.0, T0 + 15.0), (T0 + 25.0, T0 + 30.0)]
    journal = build_journal(faults=flapping)
    for chart in (breaker_chart, retries_chart, fallback_chart, latency_chart, hit_rate_chart):
        fig = chart(journal)
        assert not isinstance(fig, Skipped)
        spans = [
            (p.get_x(), p.get_x() + p.get_width())
            for p in fig.axes[0].patches
            if isinstance(p, Rectangle)
        ]
        assert spans == [pytest.approx((0.0, 5.0)), pytest.approx((15.0, 20.0))]
        assert fig.axes[0].get_xlabel() == "time since the first fault start (s)"


def test_breaker_chart_steps_closed_open_half_open_closed() -> None:
    fig = breaker_chart(build_journal())
    assert not isinstance(fig, Skipped)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["closed", "open", "half-open"]
    audit = next(line for line in ax.get_lines() if line.get_label() == "audit breaker")
    x, y = np.asarray(audit.get_xdata()), np.round(np.asarray(audit.get_ydata()))
    changes = [(float(x[i]), int(y[i])) for i in range(1, len(y)) if y[i] != y[i - 1]]
    assert changes == [(1.5, 1), (11.0, 2), (12.0, 0)]
    assert {line.get_label() for line in ax.get_lines()} == {"audit breaker", "pms breaker"}


def test_one_breaker_has_its_transitions_marked() -> None:
    fig = breaker_chart(build_journal(), "audit")
    assert not isinstance(fig, Skipped)
    notes = [t.get_text() for t in fig.axes[0].texts]
    assert notes == ["closed>open\n+1.5 s", "open>half-open\n+11.0 s", "half-open>closed\n+12.0 s"]


def test_counters_are_drawn_as_increase_not_raw_values() -> None:
    journal = build_journal()
    fig = retries_chart(journal)
    assert not isinstance(fig, Skipped)
    lines = {line.get_label(): np.asarray(line.get_ydata()) for line in fig.axes[0].get_lines()}
    assert lines["retries: pms.get"].max() == 0.0  # raw value 40 all along
    assert lines["retries: audit.write"][0] == 0.0
    assert lines["retries: audit.write"][-1] == 3.0
    fig = fallback_chart(journal)
    assert not isinstance(fig, Skipped)
    lines = {line.get_label(): np.asarray(line.get_ydata()) for line in fig.axes[0].get_lines()}
    writes = lines["fallback writes (55, cumulative)"]
    assert (writes[0], writes[-1]) == (0.0, 55.0)  # raw 7 -> 62
    pending = lines["pending replay (peak 55)"]
    assert pending.max() > 0 and pending[-1] == 0.0


def test_counter_increase_survives_a_restart() -> None:
    journal = build_journal()
    declared = frozenset({"audit_fallback_writes_total"})
    journal.timeline = Timeline.of(
        (T0 + i, Scrape({"audit_fallback_writes_total": [({}, v)]}, declared))
        for i, v in enumerate([10.0, 12.0, 15.0, 2.0, 4.0])
    )
    grown = increase(journal, "audit_fallback_writes_total")
    # 10 -> 15 is +5; after the restart the counter counts from 0: +2, then +2.
    assert grown.iloc[:, 0].tolist() == [0.0, 2.0, 5.0, 7.0, 9.0]


def test_latency_chart_colours_each_outcome() -> None:
    journal = build_journal()
    for i, status in ((60, 503), (61, 0), (62, 404)):
        s = journal.samples[i]
        journal.samples[i] = Sample(
            s.intended_at, s.sent_at, s.done_at, status, "api", s.message_id
        )
    fig = latency_chart(journal)
    assert not isinstance(fig, Skipped)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    degraded = sum(1 for s in journal.samples if s.degraded and s.status == 200)
    ok = len(journal.samples) - degraded - 3
    assert f"ok ({ok})" in labels
    assert f"degraded ({degraded})" in labels
    assert "5xx / no answer (2)" in labels
    assert "4xx (1)" in labels
    assert any(label.startswith("rolling p95") for label in labels)


def test_latency_is_drawn_from_the_intended_send_time() -> None:
    journal = build_journal()
    s = journal.samples[0]
    # Meant for T0+0.1, sent 2 s late by a stalled client, answered 10 ms after sending.
    journal.samples[0] = Sample(s.intended_at, s.intended_at + 2, s.intended_at + 2.01, 200,
                                "api", s.message_id)  # fmt: skip
    fig = latency_chart(journal)
    assert not isinstance(fig, Skipped)
    points = np.concatenate([c.get_offsets() for c in fig.axes[0].collections])
    assert max(y for _, y in points) == pytest.approx(2.01)


def test_hit_rate_chart_tracks_the_rate_against_a_dashed_target() -> None:
    fig = hit_rate_chart(build_journal())
    assert not isinstance(fig, Skipped)
    rate, target = fig.axes[0].get_lines()
    values = np.asarray(rate.get_ydata(), dtype=float)
    assert np.nanmean(values[10:]) == pytest.approx(75.0, abs=3.0)  # 3 hits per miss
    assert target.get_linestyle() == "--"
    assert np.asarray(target.get_ydata()).tolist() == [70.0, 70.0]


def test_hit_rate_chart_is_skipped_without_lookups() -> None:
    journal = build_journal()
    journal.timeline.rows = [r for r in journal.timeline.rows if not r[1].startswith("pms_cache")]
    assert isinstance(hit_rate_chart(journal), Skipped)


def test_index_links_each_report_with_its_status(tmp_path: Path) -> None:
    runs = tmp_path / "reports" / "experiments"
    passed_journal = build_journal(charts=False)
    passed = render_report(passed_journal, runs / "postgres-outage.html")
    failed_journal = build_journal(status="failed", failed=(2,), name="redis-outage", charts=False)
    failed = render_report(failed_journal, runs / "redis-outage.html")
    unsure = build_journal(status="inconclusive", inconclusive=(3,), name="pms", charts=False)
    aborted = build_journal(status="aborted", name="combined", charts=False)
    aborted.verdicts, aborted.error = [], "safety probe agent-live failed"
    index = render_index(
        [(passed_journal, passed), (failed_journal, failed), (unsure, runs / "pms.html"),
         (aborted, runs / "combined.html")],
        tmp_path / "reports" / "index.html",
    )  # fmt: skip
    page = index.read_text(encoding="utf-8")
    rows = _rows(page)
    assert [[*r[:2], r[3]] for r in rows] == [
        ["href=experiments/postgres-outage.html", "postgres-outage", "PASSED"],
        ["href=experiments/redis-outage.html", "redis-outage", "FAILED"],
        ["href=experiments/pms.html", "pms", "INCONCLUSIVE"],
        ["href=experiments/combined.html", "combined", "ABORTED"],
    ]
    assert [r[-4] for r in rows] == ["0 of 6", "1 of 6", "1 of 6", "0 of 0"]
    # No alert expectations in these runs: said so, not shown as zero.
    assert {r[-3] for r in rows} == {"no alert expected"}
    assert {r[-2] for r in rows} == {"not checked"}
    assert rows[3][-1] == "safety probe agent-live failed"
    assert all(r[5] == "35.4 s" for r in rows)
    assert all(r[4] == "2023-11-14 22:13:20 UTC" for r in rows)
    assert "1 aborted, 1 failed, 1 inconclusive, 1 passed" in page
    for href in (r[0].removeprefix("href=") for r in rows[:2]):
        assert (index.parent / href).is_file()


def test_journal_round_trips_through_json(tmp_path: Path) -> None:
    journal = build_journal()
    back = Journal.read(journal.write(tmp_path / "run.json"))
    assert back.to_dict() == journal.to_dict()
    assert back.timeline.increase("audit_fallback_writes_total") == 55.0
    assert back.samples[0] == journal.samples[0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read journal"),
        (b"\xff\xfe not utf-8", "cannot read journal"),
        (b'{"journal_version": 2,', "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"run_id": "x", "status": "passed"}', "journal_version None"),
        (
            b'{"journal_version": 1, "run_id": "x"}',
            "journal_version 1; this chaoslab reads version 2",
        ),
        (b'{"journal_version": 2, "run_id": "x"}', "not a valid journal: KeyError"),
    ],
)
def test_reading_rejects_what_is_not_a_journal_in_one_line(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "run.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ChaosError, match=re.escape(message)) as info:
        Journal.read(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_a_latency_comparison_is_drawn_as_two_distributions(tmp_path: Path) -> None:
    journal = build_journal()
    journal.experiment["spec"] = {"compare": [{"metric": "latency", "max_increase": 0.05}]}
    from chaos.experiment.compare import compare, ensure_comparison
    from chaos.experiment.expectations import Evidence

    comparison = ensure_comparison(journal.experiment["spec"]["compare"][0], "c")
    journal.verdicts.append(compare(comparison, Evidence.of(journal)))
    page = render_report(journal, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Comparison 1: latency with and without the fault" in page
    assert len(IMG.findall(page)) == 7  # the six run charts and the comparison
    verdict = journal.verdicts[-1]
    # Every other request during the fault is degraded and 0.3 s slow: the median moves.
    assert verdict.status == "failed" and verdict.observed["class"] == "DEGRADED"
