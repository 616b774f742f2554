"""Execute the lab notebooks headless (papermill) and export each to HTML (nbconvert).

``python -m chaos.lab.execute`` runs every notebook in ``notebooks/`` with short
parameters against the running stack and writes ``<out>/<name>.ipynb`` (executed) and
``<out>/<name>.html``, printing each notebook's execution time. ``--full`` keeps the
notebooks' own (longer) parameters. Exit code 1 when any notebook raised (its checks
failed or a cell errored); the executed copy and its HTML are written anyway.
``--strip`` only clears the outputs of the notebooks in ``notebooks/`` (git keeps them
stripped; a test checks).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
DEFAULT_OUT = REPO_ROOT / "reports" / "notebooks"
KERNEL = "python3"

#: Parameters that keep each notebook well under a minute or so (``make notebooks``, tests).
SHORT: dict[str, dict[str, Any]] = {
    "01-redis-latency": {"steps_ms": [150, 250, 700], "step_s": 6.0, "baseline_s": 2.0,
                         "settle_s": 3.0},
    "02-postgres-outage": {"outage_s": 6.0, "baseline_s": 2.0, "settle_s": 10.0},
    "03-cache-hit-rate": {"users": 10, "run_s": 12.0, "ttls_s": [1, 30],
                          "mixes": ["availability", "browsing"], "sweep_run_s": 10.0},
    "04-pms-outage-under-load": {"users": 6, "outage_s": 8.0, "baseline_s": 4.0,
                                 "settle_s": 8.0},
    "05-dashboard-tour": {"minutes": 5.0, "traffic_s": 10.0, "users": 4},
}  # fmt: skip


@dataclass(frozen=True)
class Execution:
    """One executed notebook: where it went, how long it took, what it raised."""

    name: str
    output: Path
    html: Path | None
    seconds: float
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


def notebooks(directory: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The lab notebooks, in order."""
    return sorted(directory.glob("[0-9][0-9]-*.ipynb"))


def export_html(executed: Path) -> Path:
    """Write ``executed`` as a standalone HTML file next to it (images embedded)."""
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(executed, as_version=4))
    html = executed.with_suffix(".html")
    html.write_text(body, encoding="utf-8")
    return html


def execute(
    notebook: Path, out_dir: Path, parameters: Mapping[str, Any], *, timeout_s: float = 900.0
) -> Execution:
    """Run one notebook with ``parameters``; the executed copy and its HTML land in ``out_dir``."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / notebook.name
    # The kernel inherits this: matplotlib never looks for a display.
    os.environ["MPLBACKEND"] = "Agg"
    began = time.monotonic()
    error = None
    try:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=dict(parameters),
            kernel_name=KERNEL,
            cwd=str(notebook.parent),
            progress_bar=False,
            log_output=False,
            execution_timeout=int(timeout_s),
        )
    except PapermillExecutionError as exc:
        error = f"{exc.ename}: {exc.evalue}"
    seconds = time.monotonic() - began
    html = export_html(output) if output.exists() else None
    return Execution(notebook.stem, output, html, seconds, error)


def strip_outputs(path: Path) -> bool:
    """Clear outputs, execution counts and run metadata of a notebook; True if it changed."""
    import nbformat

    before = path.read_text(encoding="utf-8")
    nb = nbformat.reads(before, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        for key in ("execution", "papermill"):
            cell.metadata.pop(key, None)
    for key in ("papermill", "widgets"):
        nb.metadata.pop(key, None)
    after = nbformat.writes(nb) + "\n"  # as nbformat.write ends the file
    if after != before:
        path.write_text(after, encoding="utf-8")
    return after != before


def parameters_for(name: str, *, short: bool, state_file: str) -> dict[str, Any]:
    params: dict[str, Any] = dict(SHORT.get(name, {})) if short else {}
    if state_file:
        params["state_file"] = state_file
    return params


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chaos.lab.execute", description=__doc__.splitlines()[0]
    )
    parser.add_argument("names", nargs="*", help="notebook names (default: all), e.g. 02")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--full", action="store_true", help="the notebooks' own parameters")
    parser.add_argument(
        "--strip",
        action="store_true",
        help="only clear the outputs of the notebooks in notebooks/ (before git)",
    )
    parser.add_argument(
        "--state-file",
        default=os.environ.get("CHAOSLAB_STATE_FILE", ""),
        help="stack state file (default: $CHAOSLAB_STATE_FILE or .state/)",
    )
    args = parser.parse_args(argv)
    chosen = [
        p for p in notebooks() if not args.names or any(p.stem.startswith(n) for n in args.names)
    ]
    if not chosen:
        print(f"no notebook matches {args.names} in {NOTEBOOKS_DIR}", file=sys.stderr)
        return 2
    if args.strip:
        for nb in chosen:
            print(f"{nb.name}: {'stripped' if strip_outputs(nb) else 'already clean'}")
        return 0
    results = []
    began = time.monotonic()
    for nb in chosen:
        print(f"{nb.name} ...", flush=True)
        result = execute(
            nb, args.out, parameters_for(nb.stem, short=not args.full, state_file=args.state_file)
        )
        results.append(result)
        verdict = "ok" if result.ok else f"FAILED: {result.error}"
        print(
            f"  {result.seconds:6.1f} s  {verdict}\n  -> {result.output}, {result.html}", flush=True
        )
    total = time.monotonic() - began
    print(f"\n{sum(r.ok for r in results)} of {len(results)} notebooks passed in {total:.1f} s")
    for r in results:
        print(f"  {r.name:<28} {r.seconds:6.1f} s  {'ok' if r.ok else 'FAILED'}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
