"""HTML for one run's report and for the index of runs: self-contained, no JavaScript.

Every piece of text that comes from a journal goes through ``html.escape``.
"""

from __future__ import annotations

import base64
import json
import math
from collections import Counter
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from chaos.figures.base import Skipped
from chaos.figures.runs import REPORT_CHARTS, compare_chart
from chaos.journal import Journal
from chaos.report.observability import alerts_section, panels_section

STATUS_COLOURS = {
    "passed": "#1a7f37",
    "failed": "#cf222e",
    "inconclusive": "#6e7781",
    "aborted": "#bf8700",
    "interrupted": "#9a6700",
    "error": "#8250df",
}
PHASES = ("before", "during", "after")
FIGURE_LABELS = {
    "requests": "guest requests",
    "failed": "5xx or no answer",
    "sampler_errors": "metric readings that failed",
    "schedule_lag_max_ms": "worst fault schedule lag (ms)",
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
    "first_insert_after_s": "first audit row in PostgreSQL after the recovery or fault end (s)",
    "sessions_seen_across": "API guests seen before and after the fault",
    "sessions_replaced": "of them answered from a new session after it (context lost)",
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
.bad{color:#cf222e;font-weight:600}.unknown{color:#6e7781;font-weight:600}.muted{color:#57606a}.error{background:#fff8c5;
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


def duration_s(journal: Journal) -> float | None:
    """Wall time of the run, or None when it has no end."""
    return None if journal.ended_at is None else journal.ended_at - journal.started_at


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


VERDICT_CSS = {
    "passed": ("ok", "PASS"),
    "failed": ("bad", "FAIL"),
    "inconclusive": ("unknown", "INCONCLUSIVE"),
}


def _verdict(status: str) -> str:
    css, text = VERDICT_CSS.get(status, ("unknown", status.upper()))
    return f'<span class="{css}">{text}</span>'


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:+.0f} ms"


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


def _header(journal: Journal) -> str:
    exp = journal.experiment
    reason = journal.reason()
    return (
        f"<header>{_badge(journal.status, 'badge verdict')}"
        f"<h1>{_text(exp.get('title') or journal.name or 'Chaos experiment')}</h1>"
        f"<p>{_text(exp.get('purpose') or '')}</p><dl>"
        f"<dt>experiment</dt><dd>{_text(journal.name or 'n/a')}</dd>"
        f"<dt>run id</dt><dd>{_text(journal.run_id)}</dd>"
        f"<dt>started</dt><dd>{_when(journal.started_at)}</dd>"
        f"<dt>duration</dt><dd>{_duration(duration_s(journal))}</dd>"
        f"<dt>guest load</dt><dd>{_text(_load(journal.load))}</dd></dl>"
        + (f'<p class="error">{_text(reason)}</p>' if reason else "")
        + "</header>"
    )


def _load(load: dict[str, Any]) -> str:
    if load.get("kind") == "open":
        return (
            f"open model, {load.get('rate_per_s')} messages/s from {load.get('guests')} guests, "
            f"{float(load.get('whatsapp_share') or 0):.0%} WhatsApp, "
            f"{load.get('stays')} stay windows"
        )
    return ", ".join(f"{k}={v}" for k, v in load.items()) or "none"


def _verdicts(journal: Journal) -> str:
    rows = [
        [
            _verdict(v.status),
            _text(v.expectation),
            "yes" if v.proves_fault else "",
            _text(v.detail),
        ]
        for v in journal.verdicts
    ]
    counts = Counter(v.status for v in journal.verdicts)
    summary = (
        f"<p>{counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['inconclusive']} inconclusive of {len(journal.verdicts)} expectations. "
        "An expectation marked <em>proves the fault</em> fails when the fault had no effect; "
        "inconclusive means the data could not decide (never a pass).</p>"
        if journal.verdicts
        else ""
    )
    return (
        "<h2>Verdicts</h2>"
        + summary
        + _table(
            ["result", "expectation", "proves the fault", "detail"],
            rows,
            "No expectations were judged (the run did not complete).",
        )
    )


def _steady_state(journal: Journal, t0: float) -> str:
    parts = ["<h2>Steady state</h2>"]
    for phase in PHASES:
        results = journal.steady_state.get(phase) or []
        parts.append(f"<h3>{phase}</h3>")
        if phase == "during":
            # Probes repeat about every second during the method: one row per probe.
            by_probe: dict[str, list[Any]] = {}
            for r in results:
                by_probe.setdefault(r.probe, []).append(r)
            rows = []
            for name, runs in by_probe.items():
                failed = [r for r in runs if not r.ok]
                first = failed[0] if failed else runs[-1]
                rows.append(
                    [
                        _pass(not failed),
                        _text(name),
                        str(len(runs)),
                        str(len(failed)),
                        _text(first.detail),
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
                [_pass(r.ok), _text(r.probe), _offset(r.at, t0), _text(r.detail)] for r in results
            ]
            parts.append(
                _table(
                    ["result", "probe", "at", "detail"], rows, f"No probes ran {phase} the method."
                )
            )
    return "".join(parts)


def _method(journal: Journal, t0: float) -> str:
    rows = []
    for f in journal.faults:
        start_lag = (
            None
            if f.started_at is None or f.planned_start_at is None
            else f.started_at - f.planned_start_at
        )
        end_lag = (
            None
            if f.ended_at is None or f.planned_end_at is None
            else f.ended_at - f.planned_end_at
        )
        rows.append(
            [
                _text(f.fault),
                f"{f.planned_start_s:g}-{f.planned_end_s:g} s",
                _offset(f.started_at, t0),
                _offset(f.ended_at, t0),
                f"{_ms(start_lag)} / {_ms(end_lag)}",
                _text(", ".join(f.toxics) or ("proxy disabled" if f.type == "down" else "")),
                _text(f.error or f.removal_detail),
            ]
        )
    return (
        '<h2>Method</h2><p class="muted">Start and end are the moments the proxy confirmed '
        "the fault and its removal, relative to the first fault start; lag is how late that "
        "was against the plan.</p>"
        + _table(
            ["fault", "planned", "start", "end", "lag (start / end)", "toxics", "removal"],
            rows,
            "No fault was injected.",
        )
    )


def _rollbacks(journal: Journal) -> str:
    rows = [[_pass(r.ok), _text(r.action), _text(r.detail)] for r in journal.rollbacks]
    return "<h2>Rollbacks</h2>" + _table(
        ["result", "action", "detail"], rows, "No rollback was recorded."
    )


def _evidence(journal: Journal, t0: float) -> str:
    """How complete the data behind the verdicts is: readings, failed reads, audit."""
    tl = journal.timeline
    agent, prom = len(tl.times("agent")), len(tl.times("prometheus"))
    channels = Counter(s.channel for s in journal.samples)
    per_channel = ", ".join(f"{n} {c}" for c, n in sorted(channels.items())) or "none"
    parts = [
        "<h2>Evidence</h2>",
        f"<p>{agent} readings of the agent's metrics, {prom} of Prometheus, "
        f"{len(journal.samples)} guest requests ({per_channel}).</p>",
    ]
    rows = [[_offset(e.t, t0), _text(e.source), _text(e.message)] for e in tl.errors[:50]]
    more = f" (first 50 of {len(tl.errors)})" if len(tl.errors) > 50 else ""
    parts.append(f"<h3>Readings that failed{more}</h3>")
    parts.append(_table(["at", "source", "error"], rows, "None: every reading succeeded."))
    audit = journal.audit
    parts.append("<h3>Audit log reconciliation</h3>")
    if not audit:
        parts.append('<p class="muted">The audit log was not reconciled.</p>')
    elif audit.get("error"):
        parts.append(f'<p class="error">Could not query the audit log: {_text(audit["error"])}</p>')
    else:
        lost, dup = audit.get("lost") or [], audit.get("duplicated") or {}
        parts.append(
            f"<p>{audit.get('acknowledged')} acknowledged message ids; {audit.get('present')} "
            f"found in PostgreSQL; {len(lost)} lost; {len(dup)} duplicated.</p>"
        )
        if lost:
            parts.append(f"<p>Lost: <code>{_text(', '.join(lost[:30]))}</code></p>")
        if dup:
            listed = ", ".join(f"{k} x{n}" for k, n in list(dup.items())[:30])
            parts.append(f"<p>Duplicated: <code>{_text(listed)}</code></p>")
    return "".join(parts)


def _figures(journal: Journal) -> str:
    rows = [[_text(FIGURE_LABELS.get(k, k)), _num(v)] for k, v in journal.figures.items()]
    return "<h2>Headline figures</h2>" + _table(
        ["figure", "value"], rows, "No figures (the run did not complete).", frozenset({1})
    )


def _charts(journal: Journal) -> str:
    parts = [
        '<h2>Charts</h2><p class="muted">Shaded: fault windows as the proxy confirmed them. '
        "Time is relative to the first fault start; latency counts from each request's "
        "intended send time.</p>"
    ]
    drawn: list[tuple[str, Any]] = list(REPORT_CHARTS)
    for i, entry in enumerate((journal.experiment.get("spec") or {}).get("compare") or []):
        if isinstance(entry, dict) and entry.get("metric") == "latency":
            drawn.append((f"Comparison {i + 1}: latency with and without the fault",
                          lambda j, i=i: compare_chart(j, i)))  # fmt: skip
    for title, build in drawn:
        parts.append(f"<h3>{_text(title)}</h3>")
        chart = build(journal)
        if isinstance(chart, Skipped):
            parts.append(f'<p class="muted skipped">Skipped: {_text(chart.reason)}.</p>')
        else:
            data = base64.b64encode(chart.png()).decode("ascii")
            parts.append(f'<img alt="{_text(title)}" src="data:image/png;base64,{data}">')
    return "".join(parts)


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_text(title)}</title><style>{CSS}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _spec(journal: Journal) -> str:
    spec = journal.experiment.get("spec")
    if not spec:
        return ""
    text = json.dumps(spec, indent=2, ensure_ascii=False, default=str)
    return f"<details><summary>Experiment definition</summary><pre>{_text(text)}</pre></details>"


def render_report(journal: Journal, out_path: Path) -> Path:
    """Write one run's self-contained HTML report to ``out_path`` and return the path."""
    t0 = journal.origin
    body = (
        _header(journal)
        + _verdicts(journal)
        + alerts_section(journal)
        + _method(journal, t0)
        + _rollbacks(journal)
        + _evidence(journal, t0)
        + _steady_state(journal, t0)
        + _figures(journal)
        + _charts(journal)
        + panels_section(journal)
        + _spec(journal)
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(
        _page(f"{journal.name or 'experiment'}: {journal.status}", body), encoding="utf-8"
    )
    return out_path
