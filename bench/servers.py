"""Servers the bench starts beside the stack: the bare app, and extra agents.

An extra agent is the lab's throwaway agent: the stack's dependencies through the same
proxies, its own port and audit fallback file, so the bench can measure another profile
(production settings) or several worker processes without touching the running stack.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from chaos.lab.agents import temporary_agent
from chaos.stack.processes import ManagedProcess, free_port
from chaos.stack.services import http_ok
from chaos.stack.state import StackState

HOST = "127.0.0.1"


@contextlib.contextmanager
def bare_app(log_dir: Path) -> Iterator[tuple[str, int]]:
    """``(url, pid)`` of ``bench.bare_app`` on a free port, stopped on exit."""
    port = free_port(HOST)
    proc = ManagedProcess(
        "bare_app",
        [sys.executable, "-m", "bench.bare_app", "--port", str(port)],
        log_dir / "bare_app.log",
        lambda: http_ok(f"http://{HOST}:{port}/health/live"),
    )
    proc.start()
    try:
        assert proc.pid is not None
        yield f"http://{HOST}:{port}", proc.pid
    finally:
        proc.stop()


@contextlib.contextmanager
def extra_agent(
    state: StackState, *, profile: str = "lab", env: dict[str, str] | None = None
) -> Iterator[tuple[str, int]]:
    """``(url, pid)`` of an extra agent process (``chaos.lab.agents``), stopped on exit."""
    quiet = {"AGENT_LOG_LEVEL": "WARNING", **(env or {})}
    with temporary_agent(state, quiet, profile=profile) as agent:
        yield agent.url("agent"), agent.pids["agent"]
