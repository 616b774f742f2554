"""Find the running stack from a notebook: the same state file ``chaoslab status`` reads.

Health is judged from the URLs alone (an HTTP health endpoint, or a TCP connect for
Redis and PostgreSQL), so a stack whose state file lists no pids is judged the same way.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd

from chaos.lab.errors import LabError
from chaos.stack.processes import tcp_open
from chaos.stack.services import http_ok
from chaos.stack.state import StackState, discover

# What the notebooks cannot do without.
REQUIRED = ("agent", "proxy_api", "prometheus")
HEALTH_PATHS = {
    "agent": "/health/live", "pms": "/health", "pms_proxied": "/health",
    "proxy_api": "/version", "prometheus": "/-/ready", "alertmanager": "/-/ready",
    "redis_exporter": "/metrics", "postgres_exporter": "/metrics",
}  # fmt: skip


def answers(name: str, url: str) -> bool:
    """Whether the service behind ``url`` answers now."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and name in HEALTH_PATHS:
        return http_ok(f"{parts.scheme}://{parts.netloc}{HEALTH_PATHS[name]}")
    host, port = parts.hostname, parts.port
    return host is not None and port is not None and tcp_open(host, port)


def stack(state_file: str | Path | None = None) -> StackState:
    """The running stack (``state_file``, else ``$CHAOSLAB_STATE_FILE``, else ``.state/``).

    Raises ``LabError`` when the agent, the fault proxy or Prometheus does not answer.
    """
    state = discover(Path(state_file) if state_file else None)
    down = [name for name in REQUIRED if not answers(name, state.url(name))]
    if down:
        raise LabError(
            f"the stack is not healthy ({', '.join(down)} not answering); "
            "see `chaoslab status` or start it with `chaoslab up`"
        )
    return state


def status(state: StackState) -> pd.DataFrame:
    """Every URL of the stack and whether it answers (what ``chaoslab status`` shows)."""
    rows = [
        {"service": name, "url": url, "up": answers(name, url)}
        for name, url in sorted(state.urls.items())
    ]
    return pd.DataFrame(rows).set_index("service")
