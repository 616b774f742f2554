"""``python -m bench --quick`` completes and writes every documented figure (bench/)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chaos.faults import verify_clean
from chaos.stack.state import StackState
from chaos.toxiproxy import ToxiproxyClient

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO_ROOT = Path(__file__).resolve().parents[2]
FIGURE_KEYS = ("rps", "p50_ms", "p95_ms", "p99_ms", "requests", "failures")


def number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def test_quick_bench_writes_the_documented_figures(
    settled_stack: StackState, tmp_path: Path
) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--skip-proxy", "--out", str(out)],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    report = json.loads(out.read_text())
    for section in ("agent_cached", "bare_endpoint", "bare_app"):
        assert all(number(report[section][k]) for k in FIGURE_KEYS), report[section]
        assert report[section]["requests"] > 0
        assert report[section]["failures"] == 0
        assert 0 < report[section]["generator_cpu_share"] < 2
        assert isinstance(report[section]["valid"], bool)
    for key in ("agent_to_bare_ratio", "live_to_bare_app_ratio", "agent_cpu_ms_per_message"):
        assert number(report[key]) and report[key] > 0, key
    assert set(report["guest_mix_profiles"]) == {"lab", "default"}
    for mix in report["guest_mix_profiles"].values():
        assert mix["requests"] > 0
        assert mix["cache_hit_ratio"] is None or 0 <= mix["cache_hit_ratio"] <= 1
    workers = report["workers"]
    assert workers["requests"] > 0
    assert workers["metrics_count_every_message"] is True, workers
    deg = report["degradation"]
    assert number(deg["healthy_p95_ms"])
    for phase in ("postgres_outage", "redis_latency"):
        assert number(deg[phase]["p95_ms"])
        assert number(deg[phase]["ratio"])
        assert deg[phase]["requests"] > 0
        assert deg[phase]["failures"] == 0
    assert deg["postgres_outage"]["audit_breaker_open"] is True
    assert deg["postgres_outage"]["recovered"] is True
    assert report["proxy"] == "unavailable"
    assert "skip" in report["proxy_note"]
    assert "agent, cached path" in done.stdout
    assert "degradation, Redis" in done.stdout
    assert "bare FastAPI app" in done.stdout
    with ToxiproxyClient(settled_stack.url("proxy_api")) as proxy:
        assert verify_clean(proxy) == []
