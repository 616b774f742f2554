"""Servers the bench starts beside the stack: the bare app, and extra agents.

An extra agent talks to the stack's Redis, PostgreSQL and PMS through the same proxies
as the stack's agent, on its own port with its own audit fallback file, so the bench can
measure another profile (production settings) or several worker processes without
touching the running stack.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from chaos.stack.config import LAB_AGENT_ENV
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


def agent_env(state: StackState, port: int, folder: Path, profile: str) -> dict[str, str]:
    """The environment of an extra agent on ``port`` with the ``lab`` or ``default`` profile."""
    env = dict(LAB_AGENT_ENV) if profile == "lab" else {}
    env.update(
        {
            "AGENT_HOST": HOST,
            "AGENT_PORT": str(port),
            "AGENT_ENVIRONMENT": f"bench-{profile}",
            "AGENT_ADMIN_TOKEN": state.admin_token or "bench-admin-token",
            "AGENT_REDIS__URL": state.url("redis_proxied"),
            "AGENT_DATABASE__DSN": state.url("postgres_proxied"),
            "AGENT_PMS__BASE_URL": state.url("pms_proxied"),
            "AGENT_AUDIT__FALLBACK_PATH": str(folder / "audit_fallback.jsonl"),
            "AGENT_WHATSAPP__APP_SECRET": state.whatsapp_secret,
            "AGENT_WHATSAPP__VERIFY_TOKEN": state.whatsapp_secret,
            "AGENT_WHATSAPP__GRAPH_BASE_URL": f"{state.url('pms')}/graph",
            "AGENT_LOG_LEVEL": "WARNING",
        }
    )
    return env


@contextlib.contextmanager
def extra_agent(
    state: StackState, log_dir: Path, *, profile: str = "lab", env: dict[str, str] | None = None
) -> Iterator[tuple[str, int]]:
    """``(url, pid)`` of an extra agent process, stopped (and its files removed) on exit."""
    port = free_port(HOST)
    folder = Path(tempfile.mkdtemp(prefix="bench-agent-"))
    proc = ManagedProcess(
        f"agent_{profile}",
        [sys.executable, "-m", "agent"],
        log_dir / f"agent_{profile}_{port}.log",
        lambda: http_ok(f"http://{HOST}:{port}/health/live"),
        env={**agent_env(state, port, folder, profile), **(env or {})},
    )
    proc.start()
    try:
        assert proc.pid is not None
        yield f"http://{HOST}:{port}", proc.pid
    finally:
        proc.stop()
        shutil.rmtree(folder, ignore_errors=True)
