"""Thresholds decide Locust's exit code, and say which one failed (chaos/load/locust_hooks.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_an_impossible_p95_fails_the_run_with_the_reason(locust_cli, tmp_path: Path) -> None:
    base = tmp_path / "breach"
    done = locust_cli(
        "-f",
        "loadtests/steady.py",
        "--headless",
        "-u",
        "2",
        "-r",
        "2",
        "-t",
        "3s",
        "--think-time",
        "0.1,0.2",
        "--json-file",
        str(base),
        "--only-summary",
        "--thresholds",
        "p95_ms=0.001,min_cache_hit_ratio=0",
    )
    out = done.stdout + done.stderr
    assert done.returncode == 1, out[-3000:]
    assert "threshold failed: p95" in out
    assert "> 0 ms (Aggregated)" in out
    verdicts = json.loads(Path(f"{base}_thresholds.json").read_text())
    failed = [v["key"] for v in verdicts["verdicts"] if not v["passed"]]
    assert failed == ["p95_ms"]
    assert not verdicts["passed"]
    assert verdicts["requests"] > 0  # it ran; only the threshold failed it


def test_a_misspelt_threshold_stops_before_the_run(locust_cli) -> None:
    done = locust_cli(
        "-f",
        "loadtests/steady.py",
        "--headless",
        "-u",
        "1",
        "-t",
        "30s",
        "--thresholds",
        "p95=800",
        timeout=30,
    )
    assert done.returncode == 2
    assert "unknown threshold 'p95'" in done.stderr
