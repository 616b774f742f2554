"""HTML for one run's report and for the index of runs: self-contained, no JavaScript.

Every piece of text that comes from a journal goes through ``html.escape``.
"""

from __future__ import annotations

import base64
import json
import math
import os
from collections import Counter
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from chaos.report.charts import Chart, origin, render_charts

STATUS_COLOURS = {
    "passed": "#1a7f37",
    "failed": "#cf222e",
    "aborted": "#bf8700",
    "interrupted": "#9a6700",
    "error": "#8250df",
}
PHASES = ("before", "during", "after")
FIGURE_LABELS = {
    "requests": "guest requests",
    "errors_5xx": "5xx or no answer",
    "degraded": "degraded replies",
    "audit_rows": "audit rows written",
    "fault_duration_s": "fault duration (s)",
    "p50_before_s": "p50 before (s)",
    "p95_before_s": "p95 before (s)",
    "p50_during_s": "p50 during (s)",
    "p95_during_s": "p95 during (s)",
    "p50_after_s": "p50 after (s)",
    "p95_after_s": "p95 after (s)",
    "session_save_retries_total": "session save retries",
    "audit_fallback_writes_total": "audit fallback writes",
    "pms_cache_stale_served_total": "stale PMS answers served",
    "pms_cache_hits_total": "PMS cache hits",
    "pms_cache_misses_total": "PMS cache misses",
}

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#24292f;margin:0 auto;
max-width:1100px;padding:1.5rem}
h1{margin:.2rem 0;font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid #d0d7de;
padding-bottom:.3rem;font-size:1.2rem}h3{font-size:1rem;margin:1.2rem 0 .4rem}
table{border-collapse:collapse;width:100%;margin:.4rem 0}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;color:#fff;border-radius:4px;padding:.1rem .5rem;font-weight:600}
.verdict{font-size:1.3rem;padding:.3rem .9rem}.ok{color:#1a7f37;font-weight:600}
.bad{color:#cf222e;font-weight:600}.muted{color:#57606a}.error{background:#fff8c5;
border:1px solid #d4a72c;padding:.5rem;border-radius:4px}
img{max-width:100%;height:auto;border:1px solid #d0d7de}pre{background:#f6f8fa;padding:.6rem;
overflow:auto;font-size:12px}dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}
dt{font-weight:600}dd{margin:0}
"""


def _text(value: Any) -> str:
    """Any journal value as escaped text."""
    return escape(str(value))


def _num(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}" if value.is_integer() or abs(value) >= 1 else f"{value:.4g}"
    return _text(value)


def _when(epoch: Any) -> str:
    if not isinstance(epoch, int | float):
        return "n/a"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration_s(journal: dict[str, Any]) -> float | None:
    """Wall time of the run, or None when the journal lacks its start or end."""
    start, end = journal.get("started_at"), journal.get("ended_at")
    if isinstance(start, int | float) and isinstance(end, int | float):
        return float(end) - float(start)
    return None


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def _offset(epoch: Any, t0: float) -> str:
    return f"{float(epoch) - t0:+.1f} s" if isinstance(epoch, int | float) else "n/a"


def _badge(status: str, css: str = "badge") -> str:
    colour = STATUS_COLOURS.get(status, "#57606a")
    return f'<span class="{css}" style="background:{colour}">{_text(status.upper())}</span>'


def _pass(ok: Any) -> str:
    return '<span class="ok">PASS</span>' if ok else '<span class="bad">FAIL</span>'


def _table(
    head: list[str], rows: list[list[str]], empty: str, numeric: frozenset[int] = frozenset()
) -> str:
    """A table from already escaped cells; ``empty`` (plain text) when there are no rows."""
    if not rows:
        return f'<p class="muted">{_text(empty)}</p>'
    header = "".join(f"<th>{_text(h)}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _header(journal: dict[str, Any]) -> str:
    exp = journal.get("experiment") or {}
    status = str(journal.get("status", "unknown"))
    error = journal.get("error")
    return (
        f"<header>{_badge(status, 'badge verdict')}"
        f"<h1>{_text(exp.get('title') or exp.get('name') or 'Chaos experiment')}</h1>"
        f"<p>{_text(exp.get('purpose') or '')}</p><dl>"
        f"<dt>experiment</dt><dd>{_text(exp.get('name', 'n/a'))}</dd>"
        f"<dt>run id</dt><dd>{_text(journal.get('run_id', 'n/a'))}</dd>"
        f"<dt>started</dt><dd>{_when(journal.get('started_at'))}</dd>"
        f"<dt>duration</dt><dd>{_duration(duration_s(journal))}</dd></dl>"
        + (f'<p class="error">{_text(error)}</p>' if error else "")
        + "</header>"
    )


def _verdicts(journal: dict[str, Any]) -> str:
    items = journal.get("expectations") or []
    rows = [
        [
            _pass(e.get("passed")),
            _text(e.get("expectation", "")),
            _text(e.get("kind", "")),
            _text(e.get("detail", "")),
        ]
        for e in items
    ]
    passed = sum(1 for e in items if e.get("passed"))
    summary = f"<p>{passed} of {len(items)} expectations met.</p>" if items else ""
    return (
        "<h2>Verdicts</h2>"
        + summary
        + _table(
            ["result", "expectation", "kind", "detail"],
            rows,
            "No expectations were judged (the run did not complete).",
        )
    )


def _steady_state(journal: dict[str, Any], t0: float) -> str:
    phases = journal.get("steady_state") or {}
    parts = ["<h2>Steady state</h2>"]
    for phase in PHASES:
        results = phases.get(phase) or []
        parts.append(f"<h3>{phase}</h3>")
        if phase == "during":
            # Probes repeat about every second during the method: one row per probe.
            by_probe: dict[str, list[dict[str, Any]]] = {}
            for r in results:
                by_probe.setdefault(str(r.get("probe", "")), []).append(r)
            rows = []
            for name, runs in by_probe.items():
                failed = [r for r in runs if not r.get("ok")]
                first = failed[0] if failed else runs[-1]
                rows.append(
                    [
                        _pass(not failed),
                        _text(name),
                        str(len(runs)),
                        str(len(failed)),
                        _text(first.get("detail", "")),
                    ]
                )
            parts.append(
                _table(
                    ["result", "probe", "checks", "failed", "first failure or last"],
                    rows,
                    "No probes ran during the method.",
                )
            )
        else:
            rows = [
                [
                    _pass(r.get("ok")),
                    _text(r.get("probe", "")),
                    _offset(r.get("at"), t0),
                    _text(r.get("detail", "")),
                ]
                for r in results
            ]
            parts.append(
                _table(
                    ["result", "probe", "at", "detail"], rows, f"No probes ran {phase} the method."
                )
            )
    return "".join(parts)


def _method(journal: dict[str, Any], t0: float) -> str:
    rows = []
    for m in journal.get("method") or []:
        start, end = m.get("started_at"), m.get("ended_at")
        length = (
            f"{float(end) - float(start):.1f} s"
            if isinstance(start, int | float) and isinstance(end, int | float)
            else "n/a"
        )
        rows.append(
            [
                _text(m.get("fault", "")),
                _text(m.get("proxy", "")),
                _text(m.get("type", "")),
                _offset(start, t0),
                _offset(end, t0),
                length,
                _text(", ".join(map(str, m.get("toxics") or []))),
            ]
        )
    return (
        '<h2>Method</h2><p class="muted">Offsets are relative to the first fault start.</p>'
        + _table(
            ["fault", "proxy", "type", "start", "end", "duration", "toxics"],
            rows,
            "No fault was injected.",
        )
    )


def _rollbacks(journal: dict[str, Any]) -> str:
    rows = []
    for r in journal.get("rollbacks") or []:
        extra = r.get("detail") or ", ".join(map(str, r.get("toxics") or []))
        rows.append([_pass(r.get("ok")), _text(r.get("action", "")), _text(extra)])
    return "<h2>Rollbacks</h2>" + _table(
        ["result", "action", "detail"], rows, "No rollback was recorded."
    )


def _figures(journal: dict[str, Any]) -> str:
    figures = journal.get("figures") or {}
    rows = [[_text(FIGURE_LABELS.get(k, k)), _num(v)] for k, v in figures.items()]
    return "<h2>Headline figures</h2>" + _table(
        ["figure", "value"], rows, "No figures (the run did not complete).", frozenset({1})
    )


def _charts(charts: list[Chart]) -> str:
    parts = [
        '<h2>Charts</h2><p class="muted">Shaded: fault windows. Time is relative to the '
        "first fault start.</p>"
    ]
    for chart in charts:
        parts.append(f"<h3>{_text(chart.title)}</h3>")
        if chart.png is None:
            parts.append(f'<p class="muted skipped">Skipped: {_text(chart.note)}.</p>')
        else:
            data = base64.b64encode(chart.png).decode("ascii")
            parts.append(f'<img alt="{_text(chart.title)}" src="data:image/png;base64,{data}">')
    return "".join(parts)


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_text(title)}</title><style>{CSS}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _spec(journal: dict[str, Any]) -> str:
    spec = (journal.get("experiment") or {}).get("spec")
    if not spec:
        return ""
    text = json.dumps(spec, indent=2, ensure_ascii=False, default=str)
    return f"<details><summary>Experiment definition</summary><pre>{_text(text)}</pre></details>"


def render_report(journal: dict[str, Any], out_path: Path) -> Path:
    """Write one run's self-contained HTML report to ``out_path`` and return the path."""
    t0 = origin(journal)
    name = (journal.get("experiment") or {}).get("name", "experiment")
    body = (
        _header(journal)
        + _verdicts(journal)
        + _steady_state(journal, t0)
        + _method(journal, t0)
        + _rollbacks(journal)
        + _figures(journal)
        + _charts(render_charts(journal))
        + _spec(journal)
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(_page(f"{name}: {journal.get('status', '')}", body), encoding="utf-8")
    return out_path


def render_index(entries: list[tuple[dict[str, Any], Path]], out_path: Path) -> Path:
    """Write an index page linking each run's report (relative links) and return its path."""
    counts = Counter(str(j.get("status", "unknown")) for j, _ in entries)
    summary = f"{counts.pop('passed', 0)} passed / {counts.pop('failed', 0)} failed"
    summary += "".join(f", {n} {_text(s)}" for s, n in sorted(counts.items()))
    rows = []
    for journal, report in entries:
        exp = journal.get("experiment") or {}
        link = quote(Path(os.path.relpath(report, out_path.parent)).as_posix())
        failed = sum(1 for e in journal.get("expectations") or [] if not e.get("passed"))
        rows.append(
            [
                f'<a href="{_text(link)}">{_text(exp.get("name", report.stem))}</a>',
                _text(exp.get("title", "")),
                _badge(str(journal.get("status", "unknown"))),
                _when(journal.get("started_at")),
                _duration(duration_s(journal)),
                f"{failed} of {len(journal.get('expectations') or [])}",
            ]
        )
    body = f'<h1>Chaos experiment runs</h1><p class="summary">{summary}</p>' + _table(
        ["experiment", "title", "status", "started", "duration", "failed expectations"],
        rows,
        "No runs.",
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(_page("Chaos experiment runs", body), encoding="utf-8")
    return out_path
