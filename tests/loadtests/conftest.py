"""Fixtures for the Locust tests: Locust runs as a subprocess, never inside pytest.

(Importing locust would monkey-patch this process with gevent.)
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from chaos import metrics
from chaos.faults import verify_clean
from chaos.stack.state import StackState
from chaos.toxiproxy import ToxiproxyClient

REPO_ROOT = Path(__file__).resolve().parents[2]
LocustCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def locust_cli(stack: StackState) -> LocustCli:
    """Run ``python -m locust ARGS`` from the repository root against the test stack."""

    def run(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("CHAOSLAB_SAMPLES_FILE", None)
        return subprocess.run(
            [sys.executable, "-m", "locust", *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


def _nudge(agent: str) -> None:
    """A message makes the audit breaker try PostgreSQL again (it only moves on calls)."""
    with contextlib.suppress(httpx.HTTPError):
        httpx.post(
            f"{agent}/api/v1/messages",
            timeout=10,
            json={"guest_id": "loadtests-settle", "text": "Hola"},
        )


@pytest.fixture
def settled_stack(stack: StackState) -> Iterator[StackState]:
    """The stack, left as found afterwards: proxy clean, audit breaker closed, fallback drained.

    Other tests share the session's stack; a PostgreSQL fault leaves the breaker open for a
    few seconds and events to replay.
    """
    yield stack
    with ToxiproxyClient(stack.url("proxy_api")) as proxy:
        if verify_clean(proxy):
            proxy.reset()
    agent = stack.url("agent")
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        page = metrics.scrape(agent, timeout_s=5.0)
        if page.total("audit_circuit_breaker_state") == 0 and not page.total(
            "audit_fallback_pending"
        ):
            return
        _nudge(agent)
        time.sleep(0.5)
    pytest.fail("the agent did not return to its steady state within 45 s after the test")
