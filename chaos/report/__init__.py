"""HTML reports of chaos experiment runs: one page per journal, and an index of runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chaos.exceptions import ChaosError
from chaos.report.html import render_index, render_report

__all__ = ["load_journal", "render_index", "render_report"]


def load_journal(path: Path) -> dict[str, Any]:
    """Read a run's journal (JSON); ChaosError if it is unreadable or not a journal."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ChaosError(f"cannot read journal {path}: {exc}") from exc
    try:
        journal = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ChaosError(f"journal {path} is not valid JSON: {exc}") from exc
    if not isinstance(journal, dict):
        raise ChaosError(f"journal {path} is not a JSON object")
    version = journal.get("journal_version")
    if version is None:
        raise ChaosError(f"{path} is not a journal: it has no journal_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ChaosError(f"journal {path} has an invalid journal_version: {version!r}")
    return journal
