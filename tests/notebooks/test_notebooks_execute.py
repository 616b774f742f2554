"""Every notebook executed headless (papermill, short parameters) against the real stack.

A notebook passes when no cell raises: its final checks held. One more run breaks the
system under test on purpose (an agent whose audit fallback discards events) and proves
the final checks of 02-postgres-outage then fail, naming the lost events.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import nbformat
import pytest

from chaos.lab.execute import NOTEBOOKS_DIR, SHORT, Execution, execute, notebooks
from chaos.stack.state import StackState

pytestmark = [pytest.mark.notebooks, pytest.mark.integration, pytest.mark.slow]


def _state_file() -> str:
    # Set by the session `stack` fixture (tests/conftest.py) to the stack it started.
    path = os.environ.get("CHAOSLAB_STATE_FILE", "")
    assert path and Path(path).is_file(), "the stack fixture did not publish its state file"
    return path


def _cells(result: Execution) -> list[nbformat.NotebookNode]:
    nb = nbformat.read(result.output, as_version=4)
    return [c for c in nb.cells if c.cell_type == "code"]


def _calls(cell: nbformat.NotebookNode) -> list[str]:
    return [
        node.func.attr
        for node in ast.walk(ast.parse(cell.source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    ]


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append("".join(out.get("data", {}).get("text/plain", "")))
        parts.append("".join(out.get("text", "")))
    return "".join(parts)


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_notebook_runs_against_the_stack_and_its_checks_hold(
    path: Path, stack: StackState, tmp_path: Path
) -> None:
    result = execute(path, tmp_path, {**SHORT[path.stem], "state_file": _state_file()})
    assert result.ok, f"{path.name} raised: {result.error} (executed copy: {result.output})"
    cells = _cells(result)
    plots = [c for c in cells if any(name.startswith("plot_") for name in _calls(c))]
    assert plots, f"{path.name} draws no chart"
    for cell in plots:
        assert any("image/png" in o.get("data", {}) for o in cell.outputs), (
            f"{path.name}: {cell.source!r} produced no image"
        )
    checks = [c for c in cells if any(name.startswith("check_") for name in _calls(c))]
    assert checks, f"{path.name} has no final checks"
    for cell in checks:
        assert _text(cell).startswith("'ok:"), f"{path.name}: {cell.source!r} -> {_text(cell)!r}"
    assert result.html is not None and result.html.stat().st_size > 10_000
    print(f"{path.stem}: {result.seconds:.1f} s")


def test_postgres_outage_checks_fail_when_the_audit_fallback_discards_events(
    stack: StackState, tmp_path: Path
) -> None:
    """A broken fallback (a link to /dev/null) loses events; the final checks must say so."""
    path = NOTEBOOKS_DIR / "02-postgres-outage.ipynb"
    params = {**SHORT[path.stem], "state_file": _state_file(), "audit_fallback": "discard"}
    result = execute(path, tmp_path, params)
    assert not result.ok, "the checks passed although the audit fallback discarded events"
    assert result.error is not None
    assert result.error.startswith("AssertionError: ")
    assert "acknowledged messages:" in result.error and " lost (e.g. " in result.error
    cells = _cells(result)
    failed = [c for c in cells if any(o.get("output_type") == "error" for o in c.outputs)]
    assert [c.source for c in failed] == ["lab.check_no_lost_events(r)"]
    # The outage itself behaved: the breaker cycled and guests were answered; only the
    # audit trail is broken, and that is what stopped the notebook.
    passed = {c.source: _text(c) for c in cells if c.source.startswith("lab.check_")}
    assert passed['lab.check_breaker_cycle(r, "audit")'].startswith("'ok:")
    assert passed["lab.check_no_5xx(r)"].startswith("'ok:")
    print(f"broken 02-postgres-outage: {result.seconds:.1f} s, {result.error}")
