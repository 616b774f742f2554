"""HTML reports of chaos experiment runs: one page per journal, and an index of runs."""

from __future__ import annotations

from chaos.report.html import render_report
from chaos.report.index import render_index

__all__ = ["render_index", "render_report"]
