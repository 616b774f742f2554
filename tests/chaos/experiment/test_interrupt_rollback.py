"""Ctrl-C in the middle of a fault leaves the stack as it was: no toxics, every proxy
enabled, every paused process resumed and every killed or stopped one running again.
So does a runner SIGKILLed mid-fault, once its lease lapses (``chaos.lease``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from chaos.faults import verify_clean
from chaos.stack import native
from chaos.stack.state import StackState
from chaos.toxiproxy import ToxiproxyClient

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.slow]


def run_until(name: str, marker: str, tmp_path: Path) -> subprocess.Popen[str]:
    """``chaoslab run NAME`` (or a file) in a subprocess, returned once it prints ``marker``."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "chaos.cli", "run", name, "--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if marker in line:
            return proc
        if not line and proc.poll() is not None:
            break
    proc.kill()
    pytest.fail(f"the run of {name} never printed {marker!r}")


def interrupt(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    return out


@pytest.mark.parametrize("name", ["redis-latency", "combined-outage"])
def test_sigint_mid_fault_rolls_back(stack: StackState, name: str, tmp_path: Path) -> None:
    proc = run_until(name, "fault start", tmp_path)
    with ToxiproxyClient(stack.url("proxy_api")) as client:
        assert verify_clean(client) != [], "the fault should be active before the interrupt"
        interrupt(proc)
        assert verify_clean(client) == []


def held_experiment(ftype: str, path: Path) -> tuple[str, str]:
    """An experiment file holding ``ftype`` for a minute; its service and held state."""
    fault, held = HELD[ftype]
    experiment = {
        "name": f"interrupted-{ftype}",
        "title": "Interrupted",
        "purpose": "Shows the rollback of an interrupted process fault.",
        "method": [
            {"fault": {"proxy": "postgres", "type": "down"}, "start_s": 0, "duration_s": 60},
            {"fault": fault, "start_s": 0.5, "duration_s": 59},
        ],
        "expectations": [{"fallback_writes": {"min": 1}}],
        "baseline_s": 0,
    }
    path.write_text(yaml.safe_dump(experiment))
    return str(fault["service"]), held


# Each fault held far longer than the test needs, so the interrupt lands inside it.
HELD = {
    "pause": ({"service": "pms", "type": "pause"}, "paused"),
    "restart": (
        {"service": "redis", "type": "restart", "attributes": {"restart_after_ms": 50000}},
        "down",
    ),
    "kill": ({"service": "agent", "type": "kill"}, "down"),
}


@pytest.mark.parametrize("ftype", HELD)
def test_sigint_mid_process_fault_brings_the_service_back(
    stack: StackState, ftype: str, tmp_path: Path
) -> None:
    path = tmp_path / "interrupted.yaml"
    service, held = held_experiment(ftype, path)
    state_file = native.settings_of(stack).state_file
    proc = run_until(str(path), f"{service} {ftype}", tmp_path)
    assert native.service_state(StackState.load(state_file), service) == held
    interrupt(proc)
    state = StackState.load(state_file)
    assert native.service_state(state, service) == "up"  # running, not paused, answering
    assert native.probe(state) == dict.fromkeys(native.ORDER, True)
    with ToxiproxyClient(stack.url("proxy_api")) as client:
        assert verify_clean(client) == []  # PostgreSQL is back behind its proxy too


@pytest.mark.parametrize("ftype", ["pause", "kill"])
def test_a_sigkilled_runner_leaves_no_process_fault_behind(
    stack: StackState, ftype: str, tmp_path: Path
) -> None:
    path = tmp_path / "killed.yaml"
    service, held = held_experiment(ftype, path)
    state_file = native.settings_of(stack).state_file
    proc = run_until(str(path), f"{service} {ftype}", tmp_path)
    assert native.service_state(StackState.load(state_file), service) == held
    proc.send_signal(signal.SIGKILL)  # no rollback of its own: only the lease's watchdog
    proc.communicate(timeout=10)
    deadline = time.monotonic() + 60  # the lease lapses after 3 s; then a restart or resume
    while time.monotonic() < deadline:
        state = StackState.load(state_file)
        if native.service_state(state, service) == "up":
            break
        time.sleep(0.5)
    assert native.probe(StackState.load(state_file)) == dict.fromkeys(native.ORDER, True)
    with ToxiproxyClient(stack.url("proxy_api")) as client:
        assert verify_clean(client) == []
