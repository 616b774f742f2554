"""The open-model driver against the real agent: a 3 s stall moves p95 by the stall.

A closed loop (send, wait, send) would send almost nothing during a stall and report a
p95 near normal; the open model keeps sending on schedule and measures from the intended
send time, so every request the stall held shows its wait.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from chaos.stack import native
from chaos.stack.state import StackState
from chaos.traffic import OpenLoad, Sample

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def p95(samples: list[Sample]) -> float:
    ordered = sorted(s.latency_s for s in samples)
    return ordered[round(0.95 * (len(ordered) - 1))]


def window(state: StackState, stall_s: float) -> list[Sample]:
    load = OpenLoad(state.url("agent"), rate_per_s=10, guests=10, guest_prefix="stall").start()
    time.sleep(1.0)
    # The pid on record now: a process fault earlier in the session may have restarted it.
    pid = StackState.load(native.settings_of(state).state_file).pids["agent"]
    if stall_s:
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(stall_s)
        finally:
            os.kill(pid, signal.SIGCONT)
    time.sleep(4.0 - stall_s)
    return load.stop()


def test_a_three_second_stall_moves_p95_by_at_least_two_seconds(stack: StackState) -> None:
    calm, stalled = window(stack, 0.0), window(stack, 3.0)
    assert len(stalled) == pytest.approx(len(calm), abs=3)  # the schedule did not bend
    assert all(s.status == 200 for s in calm + stalled)
    shift = p95(stalled) - p95(calm)
    print(f"p95 calm {p95(calm):.3f} s, stalled {p95(stalled):.3f} s, shift {shift:.2f} s")
    assert shift >= 2.0
