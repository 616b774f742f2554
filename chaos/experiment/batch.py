"""Run several experiments in a row and write their journals, reports and an index."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos.experiment.model import Experiment
from chaos.experiment.runner import Progress, run_experiment
from chaos.stack.state import StackState


@dataclass(frozen=True)
class Outcome:
    journal: dict[str, Any]
    journal_path: Path
    report_path: Path

    @property
    def passed(self) -> bool:
        return self.journal["status"] == "passed"


def write_journal(journal: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{journal['experiment']['name']}.json"
    path.write_text(json.dumps(journal, indent=1, default=str))
    return path


def run_batch(
    experiments: list[Experiment], state: StackState, out_dir: Path, progress: Progress = print
) -> list[Outcome]:
    """Run ``experiments`` one after the other; each gets a journal and an HTML report."""
    from chaos.report import render_index, render_report

    outcomes: list[Outcome] = []
    for i, exp in enumerate(experiments, 1):
        progress(f"[{i}/{len(experiments)}] {exp.name}: {exp.title}")
        began = time.monotonic()
        journal = run_experiment(exp, state, progress=progress)
        journal_path = write_journal(journal, out_dir / "experiments")
        report_path = render_report(journal, journal_path.with_suffix(".html"))
        outcomes.append(Outcome(journal, journal_path, report_path))
        failed = [e for e in journal["expectations"] if not e["passed"]]
        progress(
            f"  -> {journal['status'].upper()} in {time.monotonic() - began:.0f} s"
            + (
                f": {failed[0]['detail']}"
                if failed
                else (f": {journal['error']}" if journal.get("error") else "")
            )
        )
    render_index([(o.journal, o.report_path) for o in outcomes], out_dir / "index.html")
    return outcomes
