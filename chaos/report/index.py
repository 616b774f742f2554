"""The index of a batch of runs: one row per run, with alert detection and unexpected pages."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from urllib.parse import quote

from chaos.journal import Journal
from chaos.report.html import _badge, _duration, _page, _table, _text, _when, duration_s
from chaos.report.observability import detection_text, unexpected_pages


def _pages(journal: Journal) -> str:
    pages = unexpected_pages(journal)
    if pages is None:
        return "not checked"
    return _text(", ".join(pages)) if pages else "0"


def render_index(entries: list[tuple[Journal, Path]], out_path: Path) -> Path:
    """Write an index page linking each run's report (relative links) and return its path."""
    counts = Counter(j.status for j, _ in entries)
    summary = ", ".join(f"{n} {_text(s)}" for s, n in sorted(counts.items())) or "no runs"
    rows = []
    for journal, report in entries:
        link = quote(Path(os.path.relpath(report, out_path.parent)).as_posix())
        bad = journal.failing()
        rows.append(
            [
                f'<a href="{_text(link)}">{_text(journal.name or report.stem)}</a>',
                _text(journal.experiment.get("title", "")),
                _badge(journal.status),
                _when(journal.started_at),
                _duration(duration_s(journal)),
                f"{len(bad)} of {len(journal.verdicts)}",
                _text(detection_text(journal)),
                _pages(journal),
                _text(journal.reason()),
            ]
        )
    pages = [p for j, _ in entries if (p := unexpected_pages(j)) is not None]
    checked = f"; unexpected pages across {len(pages)} runs: {sum(len(p) for p in pages)}"
    body = f'<h1>Chaos experiment runs</h1><p class="summary">{summary}{checked}</p>' + _table(
        [
            "experiment",
            "title",
            "status",
            "started",
            "duration",
            "not passed",
            "alert detection",
            "unexpected pages",
            "why",
        ],
        rows,
        "No runs.",
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(_page("Chaos experiment runs", body), encoding="utf-8")
    return out_path
