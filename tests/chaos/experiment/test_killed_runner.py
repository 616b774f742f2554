"""A runner SIGKILLed mid-fault leaves nothing behind once its lease lapses (three trials;
``python -m bench.killed_runner`` runs twenty)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chaos.paths import CHECKOUT
from chaos.stack.state import StackState

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.slow]


def test_faults_of_a_killed_runner_are_gone_after_the_lease_ttl(
    stack: StackState, tmp_path: Path
) -> None:
    out = tmp_path / "killed.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.killed_runner", "--trials", "3", "--out", str(out)],
        cwd=CHECKOUT, env=dict(os.environ), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    figures = json.loads(out.read_text())
    assert done.returncode == 0, figures
    assert figures["clean"] == 3
    # Each runner really was killed with its faults in place (both proxies faulted).
    assert all(r["faults_in_place"] == 2 for r in figures["results"])
