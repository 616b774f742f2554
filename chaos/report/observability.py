"""Report sections for what operators see: the run's alerts and the dashboards over the run.

Kept apart from ``chaos.report.html`` (the run itself) and built on the same helpers; every
journal value goes through ``html.escape``, every image is embedded.
"""

from __future__ import annotations

import base64
from html import escape
from typing import Any

from chaos.alerting import AlertEvidence
from chaos.journal import Journal

_VERDICT = {
    "passed": ("ok", "PASS"),
    "failed": ("bad", "FAIL"),
    "inconclusive": ("unknown", "INCONCLUSIVE"),
}


def _t(value: Any) -> str:
    return escape(str(value))


def _s(seconds: Any) -> str:
    return f"{seconds:.1f} s" if isinstance(seconds, int | float) else "n/a"


def _table(head: list[str], rows: list[list[str]], empty: str) -> str:
    if not rows:
        return f'<p class="muted">{_t(empty)}</p>'
    header = "".join(f"<th>{_t(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def detection(journal: Journal) -> list[tuple[str, float | None]]:
    """Each expected alert and how long after the fault's start it fired (None: it did not)."""
    return [
        (v.expectation.removeprefix("alert ").split(" -> ")[0], v.observed.get("fired_after_s"))
        for v in journal.verdicts
        if v.kind == "alert"
    ]


def detection_text(journal: Journal) -> str:
    """One line for the index: ``AgentDependencyDown 3.6 s, ...`` or "no alert expected"."""
    found = detection(journal)
    if not found:
        return "no alert expected"
    return ", ".join(
        f"{name} {_s(took) if took is not None else 'not fired'}" for name, took in found
    )


def unexpected_pages(journal: Journal) -> list[str] | None:
    """The unexpected pages the quiet check found (None when the run had no such check)."""
    for v in journal.verdicts:
        if v.kind == "alerts_quiet":
            return list(v.observed.get("unexpected_pages", []))
    return None


def alerts_section(journal: Journal) -> str:
    """Expected alerts with their detection and delivery, then every alert the run raised."""
    if journal.alerts is None:
        return ""
    ev = AlertEvidence.from_dict(journal.alerts)
    window = journal.fault_window
    t0 = window[0] if window else journal.started_at
    parts = [
        "<h2>Alerts</h2>",
        '<p class="muted">Detection latency runs from the first fault start the proxy '
        "confirmed to the evaluation at which Prometheus fired the alert; delivery, to the "
        "notification reaching the webhook sink. An alert belongs to this run when it became "
        "active after the fault started.</p>",
    ]
    rows = []
    for v in journal.verdicts:
        if v.kind not in ("alert", "alerts_quiet"):
            continue
        css, label = _VERDICT.get(v.status, ("unknown", v.status.upper()))
        obs = v.observed
        rows.append(
            [
                f'<span class="{css}">{label}</span>',
                _t(v.expectation),
                _s(obs.get("fired_after_s")),
                _s(obs.get("notified_after_s")),
                _t(v.detail),
            ]
        )
    parts.append(
        _table(["result", "expectation", "fired after", "notified after", "detail"], rows, "")
    )
    raised = [e for e in ev.episodes if e.active_at >= t0]
    rows = []
    for e in raised:
        sent = sorted(
            {
                n.receiver
                for n in ev.notifications
                if n.alertname == e.alertname
                and e.fired_at is not None
                and abs(n.starts_at - e.fired_at) < 0.5
                and n.status == "firing"
            }
        )
        scope = ", ".join(
            f"{k}={v}" for k, v in sorted(e.labels.items()) if k in ("dependency", "breaker")
        )
        rows.append(
            [
                _t(e.alertname),
                _t(scope),
                _t(e.severity),
                _s(e.active_at - t0),
                _s(e.fired_at - t0) if e.fired_at is not None else "never fired",
                _s(e.last_seen - t0),
                _t(", ".join(sent) or "none"),
            ]
        )
    parts.append("<h3>Every rule alert this run raised</h3>")
    parts.append(
        _table(
            ["alert", "scope", "severity", "pending", "fired", "last seen", "notified to"],
            rows,
            "No rule alert became active after the fault started.",
        )
    )
    errors = "; ".join(f"{k}: {v}" for k, v in ev.errors.items())
    parts.append(
        f"<p>{ev.alertmanager_polls} polls of the Alertmanager API, {len(ev.notifications)} "
        f"alerts in sink notifications since the run began; the run's alerts ended "
        f"{_s(ev.settled_after_s)} after the settle phase"
        + (f" (still active: {_t(', '.join(ev.unsettled))})" if ev.unsettled else "")
        + ".</p>"
        + (f'<p class="error">Sources that could not be read: {_t(errors)}</p>' if errors else "")
    )
    return "".join(parts)


def panels_section(journal: Journal) -> str:
    """The dashboards' panels over the run, chaos windows shaded (PNG embedded)."""
    if not journal.panels:
        return ""
    from chaos.dashboards.snapshot import draw  # matplotlib: only when there is a panel

    marks = [
        (f.started_at, f.ended_at)
        for f in journal.faults
        if f.started_at is not None and f.ended_at is not None
    ]
    parts = [
        "<h2>Dashboards during the run</h2>",
        '<p class="muted">Panels of the shipped Grafana dashboards over the run, drawn from '
        "Prometheus. Shaded: each dashboard's <em>Chaos windows</em> annotation (the proxy's "
        "fault series); dotted: the moments the journal has the proxy confirming each fault "
        "and its removal.</p>",
    ]
    for entry in journal.panels:
        title = f"{entry.get('dashboard_title')}: {entry.get('panel', {}).get('title')}"
        data = base64.b64encode(draw(entry, marks)).decode("ascii")
        windows = entry.get("windows", [])
        parts.append(
            f'<h3>{_t(title)}</h3><p class="muted">{len(windows)} chaos window(s): '
            + _t(
                ", ".join(f"{w['title']} ({w['end'] - w['start']:.0f} s)" for w in windows)
                or "none"
            )
            + "</p>"
            f'<img alt="{_t(title)}" src="data:image/png;base64,{data}">'
        )
    return "".join(parts)
