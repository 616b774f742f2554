"""A latency comparison on the real stack: it passes without a fault and is DEGRADED with
50 ms on the PMS path (the short version of ``make calibrate``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chaos.paths import CHECKOUT
from chaos.stack.state import StackState

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.slow]


def test_the_comparison_sees_50_ms_and_nothing_without_it(
    stack: StackState, tmp_path: Path
) -> None:
    out = tmp_path / "calibration.json"
    argv = [sys.executable, "-m", "bench.calibrate", "--runs", "1", "--window-s", "4",
            "--rate", "15", "--out", str(out)]  # fmt: skip
    done = subprocess.run(argv, cwd=CHECKOUT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert figures["false_degraded"] == 0, figures["results"]["no_fault"]
    assert figures["detected"] == 1, figures["results"]["fault"]
    assert figures["requests_per_window"]["min"] >= 40
    assert "false DEGRADED in 1 runs" in done.stdout
