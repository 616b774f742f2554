"""The committed notebooks: outputs stripped, a parameters cell first, no code of their own.

Notebooks call ``chaos.lab``; they define no function, class or lambda, touch no
``sys.path`` and end with checks. These tests read the .ipynb files only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

from chaos.lab.execute import NOTEBOOKS_DIR, SHORT, notebooks, strip_outputs

EXPECTED = [
    "01-redis-latency",
    "02-postgres-outage",
    "03-cache-hit-rate",
    "04-pms-outage-under-load",
    "05-dashboard-tour",
]
FORBIDDEN_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def _code_cells(path: Path) -> list[nbformat.NotebookNode]:
    nb = nbformat.read(path, as_version=4)
    return [c for c in nb.cells if c.cell_type == "code"]


def _lab_calls(tree: ast.AST) -> list[str]:
    """Names of the ``lab.<name>(...)`` calls in a cell."""
    return [
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "lab"
    ]


def test_the_five_notebooks_are_committed() -> None:
    assert [p.stem for p in notebooks()] == EXPECTED


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_notebook_is_valid_and_outputs_are_stripped(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in _code_cells(path):
        assert cell.outputs == [], f"{path.name}: outputs left in {cell.source[:40]!r}"
        assert cell.execution_count is None, f"{path.name}: execution count left"


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_first_code_cell_holds_only_literal_parameters(path: Path) -> None:
    first = _code_cells(path)[0]
    assert "parameters" in first.metadata.get("tags", []), f"{path.name}: no parameters tag"
    tree = ast.parse(first.source)
    names = []
    for stmt in tree.body:
        assert isinstance(stmt, ast.Assign), f"{path.name}: {ast.dump(stmt)[:60]} in parameters"
        ast.literal_eval(stmt.value)  # raises if a parameter is computed
        names += [t.id for t in stmt.targets if isinstance(t, ast.Name)]
    assert "state_file" in names


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_cells_define_nothing_and_call_one_lab_function(path: Path) -> None:
    cells = _code_cells(path)
    for cell in cells:
        tree = ast.parse(cell.source)
        for node in ast.walk(tree):
            assert not isinstance(node, FORBIDDEN_NODES), (
                f"{path.name}: a definition in {cell.source[:50]!r}"
            )
            if isinstance(node, ast.Import | ast.ImportFrom):
                assert ast.unparse(node) == "from chaos import lab", (
                    f"{path.name}: only `from chaos import lab` may be imported, "
                    f"found {ast.unparse(node)!r}"
                )
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                assert node.value.id != "sys", f"{path.name}: touches sys in {cell.source!r}"
        assert len(_lab_calls(tree)) <= 1, f"{path.name}: several lab calls in {cell.source!r}"
    assert sum(len(_lab_calls(ast.parse(c.source))) for c in cells) >= 8


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_notebook_ends_with_checks(path: Path) -> None:
    calls = [_lab_calls(ast.parse(c.source)) for c in _code_cells(path)]
    tail = [c[0] for c in calls if c][-2:]
    assert tail and all(name.startswith("check_") for name in tail), f"{path.name}: {tail}"


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_short_parameters_exist_in_the_notebook(path: Path) -> None:
    tree = ast.parse(_code_cells(path)[0].source)
    declared = {t.id for s in tree.body if isinstance(s, ast.Assign) for t in s.targets
                if isinstance(t, ast.Name)}  # fmt: skip
    assert path.stem in SHORT
    unknown = set(SHORT[path.stem]) - declared
    assert not unknown, f"{path.name}: SHORT sets undeclared parameters {unknown}"


def test_notebooks_dir_is_the_repository_folder() -> None:
    assert Path(__file__).resolve().parents[2] / "notebooks" == NOTEBOOKS_DIR


def test_strip_outputs_restores_the_committed_form(tmp_path: Path) -> None:
    original = NOTEBOOKS_DIR / "02-postgres-outage.ipynb"
    copy = tmp_path / original.name
    nb = nbformat.read(original, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code")
    cell.outputs = [nbformat.v4.new_output("stream", text="ran\n")]
    cell.execution_count = 3
    cell.metadata["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00Z"}
    nb.metadata["papermill"] = {"duration": 1.0}
    nbformat.write(nb, copy)
    assert strip_outputs(copy) is True
    assert copy.read_text() == original.read_text()
    assert strip_outputs(copy) is False
