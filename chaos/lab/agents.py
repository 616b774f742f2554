"""A throwaway agent next to the running native stack, with some settings changed.

Notebooks use it when a question needs the agent configured otherwise than the stack's
own (a shorter PMS cache TTL, an audit fallback that throws events away). It reaches the
same Redis, PostgreSQL and PMS through the same fault proxies, listens on its own port,
owns its own fallback file, and is stopped (by its pid) when the block ends. It starts
``python -m agent`` on this machine, so it needs the native stack, not Docker.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from chaos.lab.errors import LabError
from chaos.stack import services
from chaos.stack.config import Ports, StackSettings
from chaos.stack.processes import free_port
from chaos.stack.state import StackState

FALLBACK_ENV = "AGENT_AUDIT__FALLBACK_PATH"


def settings_for(
    state: StackState,
    state_dir: Path,
    agent_port: int,
    agent_env: Mapping[str, str],
    profile: str = "lab",
) -> StackSettings:
    """Stack settings that point at the running stack's servers, with our own agent port."""
    ports: dict[str, int] = {}
    for name, url in state.urls.items():
        # chaos.stack.services.stack_urls names a port NAME and its proxy NAME_proxied.
        field = f"proxy_{name.removesuffix('_proxied')}" if name.endswith("_proxied") else name
        port = urlsplit(url).port
        if field in Ports.model_fields and port:
            ports[field] = port
    missing = [
        n for n in ("redis_proxied", "postgres_proxied", "pms_proxied") if n not in state.urls
    ]
    if missing:
        raise LabError(f"the stack state lacks {', '.join(missing)}: is it a native stack?")
    ports["agent"] = agent_port
    host = urlsplit(state.url("agent")).hostname or "127.0.0.1"
    return StackSettings(
        host=host,
        state_dir=state_dir,
        ports=Ports(**ports),
        profile=profile,
        admin_token=state.admin_token or "lab-admin-token",
        whatsapp_secret=state.whatsapp_secret or "lab-whatsapp-secret",
        agent_env=dict(agent_env),
    )


def discarding_fallback(folder: Path) -> Path:
    """A fallback path whose writes go to /dev/null (fsync fails there, so appends fail).

    The lock file sits next to the link, in ``folder``, never in /dev.
    """
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "audit_fallback.jsonl"
    os.symlink("/dev/null", link)
    return link


@contextlib.contextmanager
def temporary_agent(
    state: StackState,
    env: Mapping[str, str] | None = None,
    *,
    profile: str = "lab",
    discard_audit_fallback: bool = False,
) -> Iterator[StackState]:
    """Run a second agent with ``env`` (``AGENT_*`` settings) and the ``lab`` or ``default``
    profile; yields the stack as it sees it.

    With ``discard_audit_fallback`` the agent's audit fallback file is a link to
    /dev/null: every event PostgreSQL cannot take is lost, a broken system on purpose.
    """
    folder = Path(tempfile.mkdtemp(prefix="hcl-lab-agent-"))
    overrides = dict(env or {})
    if discard_audit_fallback:
        overrides[FALLBACK_ENV] = str(discarding_fallback(folder / "fallback"))
    host = urlsplit(state.url("agent")).hostname or "127.0.0.1"
    port = free_port(host)
    settings = settings_for(state, folder, port, overrides, profile)
    proc = services.agent(settings, folder)
    try:
        proc.start(timeout=60)
        assert proc.pid is not None
        yield dataclasses.replace(
            state, urls={**state.urls, "agent": f"http://{host}:{port}"}, pids={"agent": proc.pid}
        )
    finally:
        proc.stop()
        shutil.rmtree(folder, ignore_errors=True)
