"""Several worker processes (``AGENT_WORKERS``): one port, one audit fallback slot per
worker, and ``/metrics`` counting every message whichever worker answered it."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from chaos.stack.processes import ManagedProcess, free_port
from chaos.stack.services import http_ok

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def counter(text: str, name: str, **labels: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_two_workers_share_the_port_and_count_every_message(
    redis_server: Any, postgres_server: Any, tmp_path: Path
) -> None:
    port = free_port()
    dsn = postgres_server.create_database(f"workers_{uuid.uuid4().hex[:8]}")
    env = {
        "AGENT_PORT": str(port),
        "AGENT_WORKERS": "2",
        "AGENT_REDIS__URL": redis_server.url,
        "AGENT_DATABASE__DSN": dsn,
        "AGENT_PMS__BASE_URL": "http://127.0.0.1:9",
        "AGENT_PMS__CACHE_WARM_DAYS": "0",
        "AGENT_AUDIT__FALLBACK_PATH": str(tmp_path / "fallback.jsonl"),
        "AGENT_LOG_LEVEL": "WARNING",
        "AGENT_DEPENDENCY_CHECK_INTERVAL_S": "0.2",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    env = {k: v for k, v in {**os.environ, **env}.items() if k != "CHAOSLAB_STATE_FILE"}
    agent = ManagedProcess(
        "agent",
        [sys.executable, "-m", "agent"],
        tmp_path / "agent.log",
        lambda: http_ok(f"http://127.0.0.1:{port}/health/live"),
        env=env,
    )
    agent.start(timeout=60)
    try:
        assert agent.pid is not None
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            # Each connection may land on either worker: new connections spread the load.
            messages = 24
            for i in range(messages):
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as fresh:
                    r = fresh.post(
                        "/api/v1/messages",
                        json={"guest_id": f"w-{i}", "text": "¿A qué hora es el check-in?"},
                    )
                    assert r.status_code == 200, r.text
                    assert r.json()["intent"] == "checkin_info"
            text = client.get("/metrics").text
        assert len(psutil.Process(agent.pid).children(recursive=True)) >= 2
        assert counter(text, "orchestrator_messages_total") == messages
        assert counter(text, "audit_events_total", outcome="written") == messages
        # Each worker owns its own fallback slot (slot 0 keeps the configured name).
        assert (tmp_path / "fallback.jsonl.lock").exists()
        assert (tmp_path / "fallback.1.jsonl.lock").exists()
        # Gauges merge: a breaker is closed (0) everywhere, not 0 + 0 per worker label.
        assert counter(text, "circuit_breaker_state", breaker="audit") == 0
        # Pool figures are sampled per worker and summed: 10 connections allowed in each.
        assert counter(text, "db_pool_max_connections", pool="audit") == 20
    finally:
        agent.stop()
