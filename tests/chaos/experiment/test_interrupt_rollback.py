"""Ctrl-C in the middle of a fault leaves the proxy clean: no toxics, every proxy enabled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from chaos.faults import verify_clean
from chaos.stack.state import StackState
from chaos.toxiproxy import ToxiproxyClient

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.slow]


@pytest.mark.parametrize("name", ["redis-latency", "combined-outage"])
def test_sigint_mid_fault_rolls_back(stack: StackState, name: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "chaos.cli", "run", name, "--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    injected = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if "fault start" in line:
            injected = True
            break
    assert injected, "the run never reached its fault"
    with ToxiproxyClient(stack.url("proxy_api")) as client:
        assert verify_clean(client) != [], "the fault should be active before the interrupt"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 130, out
        assert verify_clean(client) == []
