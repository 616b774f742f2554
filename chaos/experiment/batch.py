"""Run several experiments in a row and write their journals, reports and an index."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from chaos.experiment.model import Experiment
from chaos.experiment.runner import Progress, run_experiment
from chaos.journal import Journal
from chaos.processfaults import Services
from chaos.stack.state import StackState


@dataclass(frozen=True)
class Outcome:
    journal: Journal
    journal_path: Path
    report_path: Path


def run_batch(
    experiments: list[Experiment],
    state: StackState,
    out_dir: Path,
    progress: Progress = print,
    services: Services | None = None,
) -> list[Outcome]:
    """Run ``experiments`` one after the other; each gets a journal and an HTML report.

    ``services`` is what process faults act through (default: the native stack).
    """
    from chaos.report import render_index, render_report

    outcomes: list[Outcome] = []
    for i, exp in enumerate(experiments, 1):
        progress(f"[{i}/{len(experiments)}] {exp.name}: {exp.title}")
        began = time.monotonic()
        journal = run_experiment(exp, state, progress=progress, services=services)
        journal_path = journal.write(out_dir / "experiments" / f"{exp.name}.json")
        report_path = render_report(journal, journal_path.with_suffix(".html"))
        outcomes.append(Outcome(journal, journal_path, report_path))
        reason = journal.reason()
        progress(
            f"  -> {journal.status.upper()} in {time.monotonic() - began:.0f} s"
            + (f": {reason}" if reason else "")
        )
    render_index([(o.journal, o.report_path) for o in outcomes], out_dir / "index.html")
    return outcomes
